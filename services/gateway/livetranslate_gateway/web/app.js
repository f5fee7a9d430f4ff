// The LiveTranslate page: start a session from the microphone or from a file, watch its
// transcript grow, download it. A plain ES module with no dependencies and no build step.
//
// Everything shown that comes from the server or the user goes into the page as text
// (textContent), never as HTML, so a transcript cannot inject markup or script.
//
// The protocol is described in services/gateway/LIVE_PROTOCOL.md; how to use the page in
// services/gateway/WEB_PAGE.md.

const KEY_STORAGE = "livetranslate.apiKey";
// The gateway cuts audio into 100 ms chunks: one frame per chunk is 10 messages a second,
// far below its message rate limit, and small enough to keep the delay low.
const FRAME_MS = 100;
// The gateway takes 8000..48000 Hz; a device running faster is resampled by the browser.
const MAX_SAMPLE_RATE = 48000;
// Speaker colours: .speaker-colour-0 .. -7 in app.css, given out in order of appearance.
const PALETTE_SIZE = 8;

const CLOSE_MESSAGES = {
  1001: "The gateway is shutting down; try again in a moment.",
  1003: "The gateway did not understand what the page sent.",
  1006: "The connection to the gateway was lost.",
  1008: "The gateway refused the audio stream.",
  1009: "A message was too large for the gateway.",
  1011: "The gateway could not store the audio.",
  1013: "The gateway's message broker is unavailable; try again later.",
  4401: "The API key is missing or not valid.",
  4404: "The session does not exist (or belongs to another key's tenant).",
  4408: "The page read results too slowly; the transcript may be incomplete.",
  4409: "This session already has its audio; start a new one.",
  4429: "Too many requests, or audio faster than real time: the gateway stopped it.",
};

const DOWNLOADS = {
  srt: { path: "transcript.srt", extension: "srt" },
  vtt: { path: "transcript.vtt", extension: "vtt" },
  json: { path: "transcript", extension: "json" },
};

const byId = (id) => document.getElementById(id);
const ui = {
  key: byId("api-key"),
  title: byId("title"),
  language: byId("language"),
  translateTo: byId("translate-to"),
  diarize: byId("diarize"),
  startMic: byId("start-mic"),
  stop: byId("stop"),
  file: byId("audio-file"),
  startFile: byId("start-file"),
  status: byId("status"),
  error: byId("error"),
  session: byId("session"),
  sessionId: byId("session-id"),
  transcript: byId("transcript"),
  downloads: [...document.querySelectorAll("[data-download]")],
};

// ------------------------------------------------------------------ messages to the user

function setStatus(text) {
  ui.status.textContent = text;
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
}

// ------------------------------------------------------------------ talking to the gateway

function apiKey() {
  return ui.key.value.trim();
}

// What went wrong, from an RFC 9457 problem (detail), FastAPI's validation errors (a list
// of {msg}) or, failing both, the status line.
async function problemText(response) {
  try {
    const problem = await response.json();
    if (typeof problem.detail === "string") return problem.detail;
    if (Array.isArray(problem.detail)) {
      return problem.detail.map((item) => `${(item.loc ?? []).join(".")}: ${item.msg}`).join("; ");
    }
    if (typeof problem.title === "string") return problem.title;
  } catch {
    // Not JSON: fall through to the status line.
  }
  return `${response.status} ${response.statusText}`;
}

async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  const key = apiKey();
  if (key) headers.set("Authorization", `Bearer ${key}`);
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) throw new Error(await problemText(response));
  return response;
}

function openSocket(path) {
  const url = new URL(path, window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  const key = apiKey();
  // Browsers cannot set headers on a WebSocket handshake, so the key travels as a second
  // subprotocol; the gateway answers with the first. Without a key no subprotocol is
  // offered, since a server that selects none would make the browser fail the handshake.
  const socket = key
    ? new WebSocket(url, ["livetranslate.v1", `bearer.${key}`])
    : new WebSocket(url);
  socket.binaryType = "arraybuffer";
  return socket;
}

function opened(socket) {
  return new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("close", (event) => reject(new Error(closeMessage(event))), {
      once: true,
    });
  });
}

function closeMessage(event) {
  const known = CLOSE_MESSAGES[event.code] ?? `The connection closed (code ${event.code}).`;
  return event.reason ? `${known} (${event.reason})` : known;
}

function languageCodes(text) {
  return text.split(/[\s,]+/).filter((code) => code !== "");
}

async function createSession() {
  const body = {
    language: ui.language.value.trim() || null,
    translate_to: languageCodes(ui.translateTo.value),
    diarize: ui.diarize.checked,
  };
  const title = ui.title.value.trim();
  if (title) body.title = title;
  const response = await api("/api/sessions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const session = await response.json();
  return session.session_id;
}

// The read model is written by a projector of its own, a moment after the results socket
// says the session is complete: wait for it, so that a download holds every segment.
async function waitUntilStored(sessionId) {
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const response = await api(`/api/sessions/${sessionId}`);
    if ((await response.json()).status === "completed") return true;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return false;
}

// ------------------------------------------------------------------ the transcript

function formatTime(ms) {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

class TranscriptView {
  constructor(list) {
    this.list = list;
    this.clear();
  }

  clear() {
    this.list.replaceChildren();
    this.segments = new Map(); // segment_id -> {item, text, speakerChip, translations, ...}
    this.colours = new Map(); // speaker label -> palette index, in order of appearance
    this.names = new Map(); // speaker label -> name
    this.pendingTranslations = new Map(); // segment_id -> [translation messages]
  }

  // Partial revisions replace each other; the final replaces them all. A message older
  // than what is shown (a late partial) is dropped.
  segment(message) {
    let entry = this.segments.get(message.segment_id);
    if (entry !== undefined && !TranscriptView.newer(message, entry)) return;
    if (entry === undefined) entry = this.create(message.segment_id);
    entry.revision = message.revision;
    entry.final = message.is_final;
    entry.speaker = message.speaker;
    entry.start = message.start_ms;
    entry.item.classList.toggle("partial", !message.is_final);
    entry.item.classList.toggle("final", message.is_final);
    entry.time.textContent = formatTime(message.start_ms);
    entry.text.textContent = message.text;
    if (message.speaker && message.speaker_name) this.names.set(message.speaker, message.speaker_name);
    this.paintSpeaker(entry);
    this.place(entry);
    for (const translation of this.pendingTranslations.get(message.segment_id) ?? []) {
      this.translation(translation);
    }
    this.pendingTranslations.delete(message.segment_id);
  }

  static newer(message, entry) {
    const rank = Number(message.is_final) - Number(entry.final);
    return rank > 0 || (rank === 0 && message.revision >= entry.revision);
  }

  create(segmentId) {
    const item = element("li", "segment");
    item.dataset.segmentId = segmentId;
    const header = element("div", "segment-header");
    const speakerChip = element("span", "speaker");
    const time = element("span", "time");
    header.append(speakerChip, time);
    const text = element("p", "text");
    const translations = element("ul", "translations");
    item.append(header, text, translations);
    const entry = { item, speakerChip, time, text, translations, revision: -1, final: false };
    this.segments.set(segmentId, entry);
    return entry;
  }

  // Keep segments in the order they were spoken (a new segment can start before one still
  // being revised ends); follow the newest line if the reader is at the bottom.
  place(entry) {
    const following =
      [...this.list.children].find(
        (item) => item !== entry.item && Number(item.dataset.start) > entry.start,
      ) ?? null;
    entry.item.dataset.start = String(entry.start);
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    if (entry.item.parentNode !== this.list || entry.item.nextElementSibling !== following) {
      this.list.insertBefore(entry.item, following);
    }
    if (atBottom && following === null) entry.item.scrollIntoView({ block: "nearest" });
  }

  paintSpeaker(entry) {
    const chip = entry.speakerChip;
    const label = entry.speaker;
    chip.className = "speaker";
    if (!label) {
      chip.textContent = "";
      chip.hidden = true;
      delete entry.item.dataset.speaker;
      return;
    }
    if (!this.colours.has(label)) this.colours.set(label, this.colours.size % PALETTE_SIZE);
    chip.hidden = false;
    chip.classList.add(`speaker-colour-${this.colours.get(label)}`);
    chip.textContent = this.names.get(label) ?? label;
    chip.title = label;
    entry.item.dataset.speaker = label;
    entry.item.dataset.colour = String(this.colours.get(label));
  }

  translation(message) {
    const entry = this.segments.get(message.segment_id);
    if (entry === undefined) {
      // Not seen yet (results of one segment can arrive out of order): keep it for later.
      const waiting = this.pendingTranslations.get(message.segment_id) ?? [];
      waiting.push(message);
      this.pendingTranslations.set(message.segment_id, waiting);
      return;
    }
    let line = [...entry.translations.children].find(
      (item) => item.dataset.language === message.target_language,
    );
    if (line === undefined) {
      line = element("li", "translation");
      line.dataset.language = message.target_language;
      line.append(
        element("span", "language", message.target_language),
        element("span", "translation-text"),
      );
      entry.translations.append(line);
    }
    line.querySelector(".translation-text").textContent = message.text;
  }

  // The complete mapping after a rename: every segment of a speaker takes the new name.
  speakerNames(names) {
    this.names = new Map(Object.entries(names ?? {}).filter(([, name]) => name));
    for (const entry of this.segments.values()) this.paintSpeaker(entry);
  }

  get finalCount() {
    return [...this.segments.values()].filter((entry) => entry.final).length;
  }
}

const view = new TranscriptView(ui.transcript);

// ------------------------------------------------------------------ the microphone

class MicrophoneCapture {
  constructor(context, onFrame) {
    this.context = context;
    this.onFrame = onFrame;
  }

  async start() {
    // The processor is loaded before the microphone opens: audio that reaches the track
    // before the graph is connected would be lost.
    await this.context.audioWorklet.addModule("/web/capture-worklet.js");
    this.stream = await navigator.mediaDevices.getUserMedia({
      // The recogniser wants the voice as it is: no echo cancelling, noise gating or
      // automatic gain, which distort speech and vary its level.
      audio: {
        channelCount: 1,
        echoCancellation: false,
        noiseSuppression: false,
        autoGainControl: false,
      },
    });
    this.node = new AudioWorkletNode(this.context, "pcm16-capture", {
      numberOfInputs: 1,
      // No output: the node is still processed (Web Audio pulls nodes without outputs by
      // itself), and nothing is played back to the speakers.
      numberOfOutputs: 0,
      channelCount: 1,
      channelCountMode: "explicit",
      processorOptions: { frameSamples: Math.round((this.context.sampleRate * FRAME_MS) / 1000) },
    });
    this.flushed = new Promise((resolve) => {
      this.node.port.onmessage = (event) => {
        if (event.data === "flushed") resolve();
        else this.onFrame(event.data);
      };
    });
    this.source = this.context.createMediaStreamSource(this.stream);
    this.source.connect(this.node);
    await this.context.resume();
  }

  // Stops capturing; resolves once the last partial frame has been handed to onFrame.
  async stop() {
    this.source?.disconnect();
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    if (this.node) {
      this.node.port.postMessage("flush");
      await this.flushed;
    }
    await this.context.close();
  }
}

// A new audio context, at the device's rate unless the gateway cannot take it. Must be
// called while handling the click, before any await, for the browser to let it run.
function newAudioContext() {
  const context = new AudioContext();
  if (context.sampleRate <= MAX_SAMPLE_RATE) return context;
  context.close();
  return new AudioContext({ sampleRate: MAX_SAMPLE_RATE });
}

// ------------------------------------------------------------------ sessions

let current = null; // the running session: {id, socket, capture?, completed}

function setBusy(busy) {
  ui.startMic.disabled = busy;
  ui.startFile.disabled = busy;
  ui.key.disabled = busy;
}

function beginSession(sessionId) {
  view.clear();
  ui.sessionId.textContent = sessionId;
  ui.session.hidden = false;
  for (const button of ui.downloads) button.disabled = false;
  current = { id: sessionId, socket: null, capture: null, completed: false };
  return current;
}

function handleResult(session, message) {
  switch (message.type) {
    case "segment":
      view.segment(message);
      break;
    case "translation":
      view.translation(message);
      break;
    case "speaker_names":
      view.speakerNames(message.names);
      break;
    case "stream_ended":
      setStatus("The audio has ended; finishing the transcript…");
      break;
    case "session_completed":
      completed(session, message);
      break;
    case "error":
      // From the gateway ({code, message}, a close follows) or from the pipeline ({stage,
      // error_code, message}; the session carries on).
      showError(
        message.stage
          ? `The ${message.stage} stage failed (${message.error_code}): ${message.message}`
          : message.message || message.code,
      );
      break;
    default:
      // ready, pong, stream_irregularity, run_progress and types added later: not shown.
      break;
  }
}

async function completed(session, message) {
  session.completed = true;
  // The results socket stays open for later results (a rename); this page is done with it.
  if (session.socket.readyState === WebSocket.OPEN) session.socket.close(1000, "completed");
  setStatus("Saving the transcript…");
  let stored = false;
  try {
    stored = await waitUntilStored(session.id);
  } catch (error) {
    showError(error.message);
  }
  const count = message.final_segment_count ?? view.finalCount;
  setStatus(
    stored
      ? `Completed: ${count} segment${count === 1 ? "" : "s"}.`
      : `Completed: ${count} segments, but the stored transcript is not ready yet.`,
  );
  setBusy(false);
}

function watchSocket(session, socket) {
  session.socket = socket;
  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string") return;
    const message = JSON.parse(event.data);
    if (message.type === "ready") session.onReady?.();
    handleResult(session, message);
  });
  socket.addEventListener("close", (event) => {
    if (session.capture) session.capture.stop().catch(() => {});
    session.capture = null;
    ui.stop.disabled = true;
    if (session.completed) return;
    // An error message sent before the close already says what happened.
    if (ui.error.hidden) showError(closeMessage(event));
    setStatus("Stopped.");
    setBusy(false);
  });
}

async function startMicrophone() {
  clearError();
  if (!window.isSecureContext || !navigator.mediaDevices?.getUserMedia) {
    showError("The browser gives no microphone here: open the page over https (or localhost).");
    return;
  }
  const context = newAudioContext();
  setBusy(true);
  setStatus("Starting…");
  let session = null;
  try {
    session = beginSession(await createSession());
    const socket = openSocket(`/ws/sessions/${session.id}/audio`);
    watchSocket(session, socket);
    // Frames captured before the gateway is ready wait here (a fraction of a second), and
    // so does the end if Stop comes first.
    const backlog = [];
    let ready = false;
    let ending = false;
    const sendEnd = () => socket.send(JSON.stringify({ type: "end" }));
    session.send = (frame) => (ready ? socket.send(frame) : backlog.push(frame));
    session.end = () => {
      ending = true;
      if (ready) sendEnd();
    };
    session.onReady = () => {
      ready = true;
      for (const frame of backlog.splice(0)) socket.send(frame);
      if (ending) sendEnd();
      else setStatus("Listening… press Stop when the meeting is over.");
    };
    socket.addEventListener("open", () => {
      // The context's own rate: the gateway resamples to what the recogniser needs.
      socket.send(
        JSON.stringify({
          type: "start",
          sample_rate_hz: context.sampleRate,
          channels: 1,
          encoding: "pcm_s16le",
        }),
      );
    });
    session.capture = new MicrophoneCapture(context, (frame) => session.send(frame));
    await session.capture.start();
    ui.stop.disabled = false;
  } catch (error) {
    showError(
      error.name === "NotAllowedError" ? "The microphone was not allowed." : error.message,
    );
    setStatus("Stopped.");
    if (session?.socket) session.socket.close(1000, "could not start");
    else context.close();
    setBusy(false);
  }
}

async function stopMicrophone() {
  const session = current;
  if (!session?.capture) return;
  ui.stop.disabled = true;
  setStatus("Stopping…");
  const capture = session.capture;
  session.capture = null;
  await capture.stop(); // every captured sample has been sent, or queued until "ready"
  if (session.socket.readyState === WebSocket.OPEN) session.end();
}

async function startFile() {
  clearError();
  const file = ui.file.files[0];
  if (!file) {
    showError("Choose an audio file first.");
    return;
  }
  setBusy(true);
  setStatus("Starting…");
  let session = null;
  try {
    session = beginSession(await createSession());
    // The results socket opens before the upload, so that no result can be missed.
    const socket = openSocket(`/ws/sessions/${session.id}`);
    const open = opened(socket);
    watchSocket(session, socket);
    await open;
    setStatus(`Uploading ${file.name}…`);
    const response = await api(`/api/sessions/${session.id}/audio`, {
      method: "POST",
      headers: { "Content-Type": file.type || "application/octet-stream" },
      body: file,
    });
    const accepted = await response.json();
    if (!session.completed) {
      setStatus(`Transcribing ${Math.round(accepted.duration_ms / 1000)} s of audio…`);
    }
  } catch (error) {
    showError(error.message);
    setStatus("Stopped.");
    if (session?.socket) {
      session.completed = true; // the error above says it all; the close adds nothing
      session.socket.close(1000, "upload failed");
    }
    setBusy(false);
  }
}

// ------------------------------------------------------------------ downloads

async function download(kind) {
  clearError();
  const { path, extension } = DOWNLOADS[kind];
  try {
    // Fetched rather than linked: a plain link cannot carry the Authorization header.
    const response = await api(`/api/sessions/${current.id}/${path}`);
    const url = URL.createObjectURL(await response.blob());
    const link = element("a");
    link.href = url;
    link.download = `transcript-${current.id}.${extension}`;
    document.body.append(link);
    link.click();
    link.remove();
    // The download reads the blob after click() returns: release it a while later.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    showError(error.message);
  }
}

// ------------------------------------------------------------------ wiring

ui.key.value = sessionStorage.getItem(KEY_STORAGE) ?? "";
ui.key.addEventListener("input", () => sessionStorage.setItem(KEY_STORAGE, apiKey()));
ui.startMic.addEventListener("click", startMicrophone);
ui.stop.addEventListener("click", stopMicrophone);
ui.startFile.addEventListener("click", startFile);
for (const button of ui.downloads) {
  button.addEventListener("click", () => download(button.dataset.download));
}
