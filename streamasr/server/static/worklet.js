// Runs on the audio thread: forwards each 128-sample block of channel 0 to the page,
// which batches them into ~100 ms messages. Never blocks.
class Capture extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
}
registerProcessor("capture", Capture);
