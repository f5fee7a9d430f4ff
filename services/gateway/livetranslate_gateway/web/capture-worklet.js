// Runs on the audio rendering thread. Turns the microphone's Float32 blocks (128 samples
// each) into PCM16 little-endian frames of `frameSamples` samples and posts each frame to
// the page, which sends it to the gateway as one binary WebSocket message. Converting here
// keeps the page's main thread out of the audio path, and fixed frames keep the message
// rate low and steady (the gateway limits messages per second).

class Pcm16Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.frameSamples = options.processorOptions.frameSamples;
    this.newFrame();
    // "flush": post the partial frame, then "flushed", so the page can send the stream's
    // end after every captured sample (messages on a port arrive in order).
    this.port.onmessage = (event) => {
      if (event.data === "flush") {
        this.post();
        this.port.postMessage("flushed");
      }
    };
  }

  newFrame() {
    this.frame = new DataView(new ArrayBuffer(this.frameSamples * 2));
    this.filled = 0;
  }

  post() {
    if (this.filled === 0) return;
    const bytes = this.frame.buffer.slice(0, this.filled * 2);
    // Transferred, not copied: the page owns the bytes from here on.
    this.port.postMessage(bytes, [bytes]);
    this.newFrame();
  }

  process(inputs) {
    // The node takes one channel (the page sets channelCount 1, so Web Audio mixes a stereo
    // microphone down); no input connected yet means an empty list.
    const samples = inputs[0][0];
    if (samples === undefined) return true;
    for (let i = 0; i < samples.length; i += 1) {
      const clamped = Math.max(-1, Math.min(1, samples[i]));
      // Asymmetric scale: -1 maps to -32768 and +1 to 32767, both in range.
      const value = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
      this.frame.setInt16(this.filled * 2, Math.round(value), true); // true: little-endian
      this.filled += 1;
      if (this.filled === this.frameSamples) this.post();
    }
    return true; // keep the processor alive while the page holds the node
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
