// The browser client: microphone -> AudioWorklet -> float32 messages over the websocket
// (streamasr's native protocol), partials and finals shown live.
"use strict";
const $ = (id) => document.getElementById(id);
let socket = null, context = null, stream = null;

function status(text) { $("status").textContent = text; }

// Close codes a user can act on, in words (docs/protocol.md has the full table).
const CLOSES = {
  1000: "done",
  1001: "the server went away (restarting or idle): press Start to go on",
  1008: "the session reached its time limit: press Start to go on",
  1011: "the recognizer failed: press Start to retry",
  1013: "the server is busy (every recognizer is in use): retry in a moment",
};

// A refused handshake reaches a page only as close code 1006: ask the server why.
async function whyRefused() {
  try {
    const health = await fetch("healthz", { cache: "no-store" });
    if (health.status === 503) return "the server is shutting down: retry in a moment";
    return "the server is busy (every session slot is in use): retry in a moment";
  } catch (e) {
    return "the server cannot be reached: check that it is running, then retry";
  }
}

function show(message) {
  document.body.dataset.messages = String(Number(document.body.dataset.messages || 0) + 1);
  if (message.error) { status("error: " + message.error); return; }
  if (message.event) return;
  if (message.is_final) {
    if (message.text) {
      const p = document.createElement("p");
      p.textContent = message.text;
      $("finals").appendChild(p);
    }
    $("partial").textContent = "";
  } else if ("partial" in message) {
    $("partial").textContent = message.partial;
  }
}

async function start() {
  $("start").disabled = true;
  stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
  });
  const track = stream.getAudioTracks()[0];
  $("hint").textContent = `Speak; the words appear below. Microphone: ${track && track.label ? track.label : "the browser's default"}.`;
  context = new AudioContext();
  await context.audioWorklet.addModule("worklet.js");
  const source = context.createMediaStreamSource(stream);
  const node = new AudioWorkletNode(context, "capture");
  const url = new URL(location.href);
  const scheme = url.protocol === "https:" ? "wss:" : "ws:";
  const token = url.searchParams.get("token");
  socket = new WebSocket(`${scheme}//${url.host}/${token ? "?token=" + encodeURIComponent(token) : ""}`);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (e) => show(JSON.parse(e.data));
  let opened = false;
  socket.onclose = async (e) => {
    cleanup();
    if (!opened) { status(await whyRefused()); return; }
    status(CLOSES[e.code] || `closed (${e.code}${e.reason ? ": " + e.reason : ""})`);
  };
  await new Promise((resolve, reject) => {
    socket.onopen = () => { opened = true; resolve(); };
    socket.onerror = () => reject(new Error("no connection"));
  });
  socket.send(JSON.stringify({ config: { sample_rate: context.sampleRate, native: true, sample_format: "f32le" } }));
  const chunk = Math.round(context.sampleRate / 10);  // ~100 ms per message
  let pending = [], size = 0;
  node.port.onmessage = (e) => {
    pending.push(e.data); size += e.data.length;
    if (size < chunk || socket.readyState !== WebSocket.OPEN) return;
    const out = new Float32Array(size);
    let at = 0;
    for (const block of pending) { out.set(block, at); at += block.length; }
    pending = []; size = 0;
    socket.send(out.buffer);
  };
  source.connect(node);
  status("listening");
  $("stop").disabled = false;
}

function cleanup() {
  if (context) { context.close(); context = null; }
  if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
  $("start").disabled = false;
  $("stop").disabled = true;
}

function stop() {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ eof: 1 }));
  if (context) { context.close(); context = null; }
  $("stop").disabled = true;
}

$("start").onclick = () => start().catch((e) => {
  // A refused connection is explained by onclose; anything else (no microphone, ...) here.
  if (!(socket && socket.readyState === WebSocket.CLOSED)) status("error: " + e.message);
  cleanup();
});
$("stop").onclick = stop;
// Name the microphone before Start when the browser already lets the page see it.
navigator.mediaDevices?.enumerateDevices?.().then((devices) => {
  const mic = devices.find((d) => d.kind === "audioinput" && d.label);
  if (mic && !stream) $("hint").textContent = `Press Start and speak: the words appear below. Microphone: ${mic.label}.`;
}).catch(() => {});
if (new URL(location.href).searchParams.has("autostart")) $("start").click();
