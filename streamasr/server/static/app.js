// The browser client: microphone -> AudioWorklet -> float32 messages over the websocket
// (streamasr's native protocol), partials and finals shown live.
"use strict";
const $ = (id) => document.getElementById(id);
let socket = null, context = null, stream = null;

function status(text) { $("status").textContent = text; }

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
  socket.onclose = (e) => { status(`closed (${e.code}${e.reason ? ": " + e.reason : ""})`); cleanup(); };
  await new Promise((resolve, reject) => { socket.onopen = resolve; socket.onerror = reject; });
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

$("start").onclick = () => start().catch((e) => { status("error: " + e); cleanup(); });
$("stop").onclick = stop;
if (new URL(location.href).searchParams.has("autostart")) $("start").click();
