"""How many live audio sockets one gateway process (or K of them) holds, recognition excluded.

What is measured is the gateway alone: its live socket ``WS /ws/sessions/{id}/audio`` (frames
in, chunks published to audio-ingest) and its results fan-out (audio-results tailed, each
result sent to the sockets watching its session). The system runs Kafka, PostgreSQL and ONE
gateway process (``--gateways K``: K of them, each on its own port); no pipeline and no
projector, so no speech recognition takes CPU.

Several gateways are the deployment's answer to one event loop's ceiling: they are stateless
apart from PostgreSQL (any instance takes any session; each tails every result), so the
sessions are spread over them round-robin, as a load balancer would: session n is created
through, and streams to, gateway n mod K (a watcher, through the next one).

Method, and why:

1. N sessions are created through ``POST /api/sessions`` before the clock starts (that
   path is the REST API's, measured elsewhere).
2. Load generator processes, apart from the gateway (asyncio, uvloop, the ``websockets``
   library as in the project's Python client), open N live sockets at a bounded rate (a
   thousand handshakes at once would measure PostgreSQL's pool, not the steady state) and
   send each ``start``; once every socket is ``ready``, all start streaming at one agreed
   wall-clock time. Each socket sends frames of real speech (the demo recording, 16 kHz
   PCM16) at real time, its phase spread over the frame period (independent clients do not
   send in lockstep), for a fixed duration, then ``end``. The sockets offer
   permessage-deflate, as browsers and ``websockets`` do by default (``--no-compression`` to
   compare), so the gateway inflates every frame as it would in production.
   The generator must cost the machine little, since it shares the gateway's two cores:
   sending through ``websockets`` (a task, a timer and a compression per frame) took 0.9 of
   a core for 1,000 x 100 ms sockets and starved the gateway. So each frame's wire bytes
   (masked; compressed on their own, without context from earlier messages, which a sender
   may always do, at the negotiated window) are built once, and one loop per process writes
   them to the sockets' transports as they fall due: about 0.1 core for 10,000 frames a
   second. Like a browser's ``send``, a write never waits: what the gateway does not read
   piles up in the client's buffer (reported) and the kernel's.
3. A results publisher (this process, confluent-kafka) stands in for the pipeline: it
   publishes real envelope events to audio-results at a realistic rate (by default one
   TranscriptionCompleted a second per session: four partial revisions, then the final),
   each encoded before the clock starts and stamped with the time it is due, so a late
   publication counts against the gateway, never for it. The live sockets receive them, and
   optionally (``--watchers``) separate ``WS /ws/sessions/{id}`` subscribers too. Added
   latency = arrival at the client minus the event's envelope timestamp (its ``emitted_at``);
   clients and publisher share this machine's clock. After the streams end, it publishes
   each session's SessionProcessingCompleted, so every live socket closes as in production,
   1000 after ``session_completed``.
4. Over a steady window (after a warm-up, before the ends) the run reads: chunks the gateway
   got acknowledged on audio-ingest (the topic's offsets: the gateway has no metrics
   endpoint), against the N x 1000 / chunk_ms that real time asks for; the gateway's CPU
   (fraction of one core, from /proc/<pid>/stat), and its event loop's (the main thread's,
   from /proc/<pid>/task/<pid>/stat: 1.0 is a process's ceiling; librdkafka's threads make
   the rest) and RSS, for K gateways their sums (and each's); the generators', the
   publisher's and the Kafka broker's CPU and the whole machine's, so a reader can tell
   what else took the cores. The warm-up is long (``WARM_UP_S``): measured second by
   second, a freshly started broker took a whole core for the first 15 s of this traffic
   (most likely its JIT compiling the hot paths), leaving the gateway 0.6-0.7 of the other;
   from then on it took a third of a core. Results are counted in the window by the time
   they were published (and over the whole run too). Memory per connection = (RSS while
   streaming - RSS before any socket) / N, RSS summed over the gateways (each one's peak in
   the window).
5. The protocol has no per-frame acknowledgement; what stands for it: the audio the gateway
   reports accepted in ``stream_ended`` (once Kafka acknowledged every chunk) against the
   audio sent, and the time from ``end`` to ``stream_ended``, which is the backlog the
   gateway still had to read and publish. The clients' own lateness (frame written minus
   frame due) shows whether the generator kept time.

Everything runs on one machine: the broker, PostgreSQL, generators and publisher take CPU
from the gateway, so read figures next to the machine's load. Never assert them in tests.

Quick run of this part only::

    uv run --frozen python -m benchmarks.gateway_load --connections 1000 --seconds 30
    uv run --frozen python -m benchmarks.gateway_load --connections 1000 --gateways 2

``--chunk-ms`` sets the gateway's GATEWAY_LIVE_CHUNK_MS (frames follow it unless
``--frame-ms``); ``--profile out.txt`` records the (first) gateway with py-spy during the window
(``uv run --frozen --with py-spy python -m benchmarks.gateway_load ...``) and prints its
top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import numpy as np
import soundfile
from confluent_kafka import Consumer, Producer, TopicPartition
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode

from benchmarks.system import BenchSystem, running_system
from livetranslate_common.envelope import new_event
from livetranslate_common.runs import LIVE_RUN
from livetranslate_common.serde import encode_event, encode_key
from livetranslate_gateway.demo import SAMPLE
from livetranslate_schemas.events import (
    EventPayload,
    LatencyMetrics,
    SessionProcessingCompleted,
    TranscriptionCompleted,
    WordTiming,
)

SAMPLE_RATE = 16_000
START = {"type": "start", "sample_rate_hz": SAMPLE_RATE, "channels": 1, "encoding": "pcm_s16le"}
#: Revisions of each transcribed segment: partials, the last one final.
REVISIONS = 5
_SENTENCE = "first we will review the budget for the next quarter and then talk about hiring"
_WORDS = _SENTENCE.split()
#: Handshakes a second, all generators together (before the clock starts).
RAMP_PER_S = 200.0
#: Seconds of streaming before the measured window: a fresh broker's warm-up (see above).
WARM_UP_S = 15.0
#: The results' SessionProcessingCompleted follow the last end by this much.
COMPLETION_DELAY_S = 3.0
#: After that, how long a socket may take to close before it counts as not closed.
CLOSE_WAIT_S = 60.0
#: The bench lifts the gateway's request rate limit (handshakes count as requests).
RATE_LIMIT = "100000/second"
#: A frame may leave this much before it is due (the generator sleeps only beyond it).
SEND_SLACK_S = 0.002
_CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class LoadSettings:
    """What one run does."""

    connections: int = 1000
    seconds: float = 45.0
    #: The gateway's GATEWAY_LIVE_CHUNK_MS.
    chunk_ms: int = 100
    #: Audio in each binary frame a client sends.
    frame_ms: int = 100
    #: Result events per session per second.
    results_per_s: float = 1.0
    #: Sessions that also have a results-only socket (``WS /ws/sessions/{id}``).
    watchers: int = 0
    #: Load generator processes.
    generators: int = 2
    #: Offer permessage-deflate, as browsers and ``websockets`` do by default.
    compression: bool = True
    ramp_per_s: float = RAMP_PER_S
    #: Gateway processes the sessions are spread over (round-robin).
    gateways: int = 1

    @property
    def frames(self) -> int:
        return int(self.seconds * 1000 / self.frame_ms)

    @property
    def results_per_session(self) -> int:
        # All due before the audio ends (the last one a period before it).
        return max(0, int(self.seconds * self.results_per_s) - 1)

    @property
    def expected_chunks_per_s(self) -> float:
        return self.connections * 1000 / self.chunk_ms

    def gateway_env(self) -> dict[str, str]:
        return {"GATEWAY_RATE_LIMIT": RATE_LIMIT, "GATEWAY_LIVE_CHUNK_MS": str(self.chunk_ms)}

    def describe(self) -> str:
        return (
            f"{self.connections:,} live sockets, {self.gateways} gateway"
            f" process{'es' if self.gateways > 1 else ''}, {self.chunk_ms} ms chunks,"
            f" {self.frame_ms} ms frames{'' if self.compression else ', no deflate'}"
            + (f", {self.watchers:,} watchers" if self.watchers else "")
        )


# --------------------------------------------------------------------------- generator side


@dataclass(frozen=True, slots=True)
class GeneratorPlan:
    """One generator process's share of the sockets (sent to it as JSON)."""

    #: Every gateway: session n (of all) goes to ``gateway_urls[n % K]``.
    gateway_urls: list[str]
    api_key: str
    sessions: list[str]
    watched: list[str]
    #: Index of ``sessions[0]`` among all sessions: each socket's phase and gateway follow.
    first_index: int
    #: Index of ``watched[0]`` among all sessions (the watched are the first ones).
    first_watched: int
    total: int
    frame_ms: int
    frames: int
    compression: bool
    ramp_per_s: float
    #: Where to write the report (JSON) at the end.
    report_path: str


@dataclass(slots=True)
class GeneratorReport:
    """What one generator process saw (sent back as JSON)."""

    opened: int = 0
    watchers_opened: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    # How each live socket closed ("1000", "4408", "none": never closed), once its end was
    # sent; ``early``: closed before that.
    closes: Counter[str] = field(default_factory=Counter)
    early: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    frames_sent: int = 0
    audio_acknowledged_ms: int = 0
    stream_ended: int = 0
    completed: int = 0
    latency_ms: list[float] = field(default_factory=list)
    watcher_latency_ms: list[float] = field(default_factory=list)
    #: When each result was published (epoch seconds), in the order of the latencies.
    emitted_s: list[float] = field(default_factory=list)
    watcher_emitted_s: list[float] = field(default_factory=list)
    send_lag_ms: list[float] = field(default_factory=list)
    end_to_ended_ms: list[float] = field(default_factory=list)
    #: 99th percentile over sockets of their send buffer's peak, in bytes.
    buffered_peak_p99: int = 0

    def to_json(self) -> str:
        # Not dataclasses.asdict: it rebuilds a Counter from (key, count) pairs, as keys.
        return json.dumps(
            {item.name: getattr(self, item.name) for item in dataclasses.fields(self)}
        )

    @classmethod
    def from_json(cls, text: str) -> GeneratorReport:
        data = json.loads(text)
        counters = ("failed", "closes", "early", "errors")
        report = cls(**{k: v for k, v in data.items() if k not in counters})
        for name in counters:
            setattr(report, name, Counter(data[name]))
        return report


def _pcm_frames(frame_ms: int, count: int = 50) -> list[bytes]:
    """``count`` frames of real speech (the gateway's demo recording, 16 kHz), PCM16."""
    samples, rate = soundfile.read(SAMPLE, dtype="int16")
    assert rate == SAMPLE_RATE
    size = SAMPLE_RATE * frame_ms // 1000
    pieces = [samples[start : start + size] for start in range(0, len(samples) - size, size)]
    return [piece.astype("<i2").tobytes() for piece in pieces[:count]]


def _wire_frame(opcode: Opcode, data: bytes, negotiated: PerMessageDeflate | None) -> bytes:
    """A message as a client puts it on the wire: masked, and compressed if deflate was
    negotiated, on its own (no context from earlier messages, which a sender may always do)
    at the negotiated window; the same bytes can then be sent again and again."""
    alone = (
        []
        if negotiated is None
        else [
            PerMessageDeflate(
                remote_no_context_takeover=negotiated.remote_no_context_takeover,
                local_no_context_takeover=True,
                remote_max_window_bits=negotiated.remote_max_window_bits,
                local_max_window_bits=negotiated.local_max_window_bits,
                compress_settings=negotiated.compress_settings,
            )
        ]
    )
    return Frame(opcode, data).serialize(mask=True, extensions=alone)


class _WireFrames:
    """Each audio frame's wire bytes and the end's, built once per process and negotiated
    setting: sending one is a write. (The end too: the client's own compressor, keeping
    context, would refer to history the server's decompressor no longer has in that order.)
    """

    def __init__(self, pcm: list[bytes]) -> None:
        self._pcm = pcm
        self._built: dict[str, tuple[list[bytes], bytes]] = {}

    def for_socket(self, ws: ClientConnection) -> tuple[list[bytes], bytes]:
        """(audio frames, end message) for this socket's negotiated extensions."""
        deflate = next(
            (e for e in ws.protocol.extensions if isinstance(e, PerMessageDeflate)), None
        )
        key = repr(deflate)
        if key not in self._built:
            self._built[key] = (
                [_wire_frame(Opcode.BINARY, data, deflate) for data in self._pcm],
                _wire_frame(Opcode.TEXT, json.dumps({"type": "end"}).encode(), deflate),
            )
        return self._built[key]


def _gateway_for(plan: GeneratorPlan, number: int) -> str:
    """The gateway of session ``number`` (of all): round-robin, as a load balancer would."""
    return plan.gateway_urls[number % len(plan.gateway_urls)]


def _ws_url(gateway_url: str, path: str) -> str:
    return gateway_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + path


def _emitted_s(message: dict[str, Any]) -> float:
    return datetime.fromisoformat(message["emitted_at"]).timestamp()


class _LiveSocket:
    """One live audio socket: opened and started, then audio at real time, then its end."""

    def __init__(self, plan: GeneratorPlan, index: int, report: GeneratorReport) -> None:
        self._plan = plan
        self._session_id = plan.sessions[index]
        self._gateway_url = _gateway_for(plan, plan.first_index + index)
        #: When, within a frame period, this socket sends its frames.
        self.phase_s = (plan.first_index + index) / plan.total * plan.frame_ms / 1000
        self._report = report
        self._ws: ClientConnection | None = None
        self._wire: list[bytes] = []
        self._end = b""
        self._receiver: asyncio.Task[None] | None = None
        self._end_sent_at: float | None = None
        self._closed = False
        #: The most audio ever waiting in this client's send buffer, in bytes.
        self.buffered_peak = 0

    async def open(self, wire: _WireFrames) -> bool:
        url = _ws_url(self._gateway_url, f"/ws/sessions/{self._session_id}/audio")
        try:
            self._ws = await _connect(url, self._plan)
            await self._ws.send(json.dumps(START))
            async with asyncio.timeout(30):
                ready = json.loads(await self._ws.recv())
        except (OSError, TimeoutError, InvalidStatus, ConnectionClosed) as error:
            self._report.failed[_failure(error)] += 1
            return False
        if ready.get("type") != "ready":
            self._report.failed[f"answer {ready.get('type')}"] += 1
            return False
        self._report.opened += 1
        self._wire, self._end = wire.for_socket(self._ws)
        self._receiver = asyncio.create_task(self._receive())
        return True

    def write(self, number: int) -> bool:
        """Put frame ``number`` on the wire (never waits, as a browser's send); False once
        the socket is closed."""
        assert self._ws is not None
        transport = self._ws.transport
        if self._closed or transport.is_closing():
            return False
        transport.write(self._wire[number % len(self._wire)])
        self.buffered_peak = max(self.buffered_peak, transport.get_write_buffer_size())
        return True

    async def finish(self, close_by: float) -> None:
        """Send the end, then take results until the gateway closes (or ``close_by``)."""
        ws, receiver = self._ws, self._receiver
        assert ws is not None
        assert receiver is not None
        if not self._closed and not ws.transport.is_closing():
            ws.transport.write(self._end)
            self._end_sent_at = time.time()
        try:
            async with asyncio.timeout(max(1.0, close_by - time.time())):
                await receiver
        except TimeoutError:
            self._report.closes["none"] += 1
            await ws.close()

    async def _receive(self) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async for raw in ws:
                self._on_message(json.loads(raw))
        except ConnectionClosed:
            pass
        self._closed = True
        code = str(ws.close_code) if ws.close_code is not None else "none"
        if self._end_sent_at is None:
            self._report.early[code] += 1
        else:
            self._report.closes[code] += 1

    def _on_message(self, message: dict[str, Any]) -> None:
        report = self._report
        kind = message.get("type")
        if kind == "segment":
            emitted = _emitted_s(message)
            report.latency_ms.append((time.time() - emitted) * 1000)
            report.emitted_s.append(emitted)
        elif kind == "stream_ended":
            report.stream_ended += 1
            report.audio_acknowledged_ms += int(message["duration_ms"])
            if self._end_sent_at is not None:
                report.end_to_ended_ms.append((time.time() - self._end_sent_at) * 1000)
        elif kind == "session_completed":
            report.completed += 1
        elif kind == "error":
            report.errors[str(message.get("code"))] += 1


async def _connect(url: str, plan: GeneratorPlan) -> ClientConnection:
    return await connect(
        url,
        additional_headers={"Authorization": f"Bearer {plan.api_key}"},
        compression="deflate" if plan.compression else None,
        # The gateway (uvicorn) pings every 20 s; the client answers, needs no pings of its own.
        ping_interval=None,
        open_timeout=30,
        max_size=2**22,
    )


def _failure(error: BaseException) -> str:
    if isinstance(error, InvalidStatus):
        return f"HTTP {error.response.status_code}"
    if isinstance(error, ConnectionClosed):
        return f"closed {error.rcvd.code if error.rcvd else 'without code'}"
    return type(error).__name__


class _Watcher:
    """A results-only socket of a session: receives until ``session_completed``. It goes to
    the gateway after its live socket's (with several, results cross instances)."""

    def __init__(self, plan: GeneratorPlan, index: int, report: GeneratorReport) -> None:
        self._plan = plan
        self._session_id = plan.watched[index]
        self._gateway_url = _gateway_for(plan, plan.first_watched + index + 1)
        self._report = report
        self._ws: ClientConnection | None = None

    async def open(self) -> bool:
        url = _ws_url(self._gateway_url, f"/ws/sessions/{self._session_id}")
        try:
            self._ws = await _connect(url, self._plan)
        except (OSError, TimeoutError, InvalidStatus) as error:
            self._report.failed[f"watcher {_failure(error)}"] += 1
            return False
        self._report.watchers_opened += 1
        return True

    async def run(self, close_by: float) -> None:
        ws = self._ws
        assert ws is not None
        try:
            async with asyncio.timeout(max(1.0, close_by - time.time())):
                async for raw in ws:
                    message = json.loads(raw)
                    if message.get("type") == "segment":
                        emitted = _emitted_s(message)
                        self._report.watcher_latency_ms.append((time.time() - emitted) * 1000)
                        self._report.watcher_emitted_s.append(emitted)
                    elif message.get("type") == "session_completed":
                        break
        except (TimeoutError, ConnectionClosed) as error:
            self._report.early[f"watcher {_failure(error)}"] += 1
        await ws.close()


async def _open_all(
    plan: GeneratorPlan, report: GeneratorReport
) -> tuple[list[_LiveSocket], list[_Watcher]]:
    """Open every socket, ``ramp_per_s`` handshakes a second; those that opened."""
    wire = _WireFrames(_pcm_frames(plan.frame_ms))
    sockets = [_LiveSocket(plan, index, report) for index in range(len(plan.sessions))]
    watchers = [_Watcher(plan, index, report) for index in range(len(plan.watched))]
    openings = [watcher.open() for watcher in watchers]
    openings += [socket.open(wire) for socket in sockets]
    tasks: list[asyncio.Task[bool]] = []
    for opening in openings:
        tasks.append(asyncio.create_task(opening))
        await asyncio.sleep(1 / plan.ramp_per_s)
    opened = await asyncio.gather(*tasks)
    return (
        [s for s, ok in zip(sockets, opened[len(watchers) :], strict=True) if ok],
        [w for w, ok in zip(watchers, opened[: len(watchers)], strict=True) if ok],
    )


async def _stream(
    sockets: list[_LiveSocket], plan: GeneratorPlan, audio_at: float, report: GeneratorReport
) -> None:
    """Every socket's frames at real time, each at its phase, from one loop: it sleeps only
    when the next frame is more than SEND_SLACK_S ahead (a task and a timer per frame would
    cost the generator more CPU than writing the frame)."""
    period = plan.frame_ms / 1000
    for number in range(plan.frames):
        start = audio_at + number * period
        for socket in sockets:
            due = start + socket.phase_s
            ahead = due - time.time()
            if ahead > SEND_SLACK_S:
                await asyncio.sleep(ahead)
            if socket.write(number):
                report.send_lag_ms.append(max(0.0, time.time() - due) * 1000)
                report.frames_sent += 1


async def _generate(plan: GeneratorPlan, commands: IO[str]) -> GeneratorReport:
    """The generator process's life: open, say ready, wait for the start time, stream."""
    report = GeneratorReport()
    sockets, watchers = await _open_all(plan, report)
    print(json.dumps({"ready": report.opened, "failed": sum(report.failed.values())}), flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, commands.readline)
    go = json.loads(line)
    close_by = float(go["close_by"])
    watching = [asyncio.create_task(watcher.run(close_by)) for watcher in watchers]
    await _stream(sockets, plan, float(go["audio_at"]), report)
    await asyncio.gather(*(socket.finish(close_by) for socket in sockets), *watching)
    peaks = sorted(socket.buffered_peak for socket in sockets)
    report.buffered_peak_p99 = peaks[int(0.99 * (len(peaks) - 1))] if peaks else 0
    return report


def generator_main() -> None:
    """``--generator``: the plan comes as one JSON line on stdin, the go as another; the
    ready line goes to stdout, the report to the plan's file."""
    import uvloop

    plan = GeneratorPlan(**json.loads(sys.stdin.readline()))
    report = uvloop.run(_generate(plan, sys.stdin))
    Path(plan.report_path).write_text(report.to_json())


# --------------------------------------------------------------------------- measurements


def _cpu_times(pid: int, *, thread: int | None = None) -> tuple[float, float]:
    """(user, system) CPU seconds of the process (or of one of its threads)."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    # utime and stime (fields 14 and 15 of stat; 12 and 13 after the command name).
    return int(fields[11]) / _CLK_TCK, int(fields[12]) / _CLK_TCK


def _cpu_seconds(pid: int) -> float:
    return sum(_cpu_times(pid))


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _listening_pid(port: int) -> int | None:
    """The process listening on this TCP port (the Kafka broker), if this user can see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in (process / "fd").iterdir()):
                return int(process.name)
    return None


def _cpu_seconds_or_zero(pid: int | None) -> float:
    """The process's CPU seconds; 0 if there is none (or it is gone)."""
    with contextlib.suppress(OSError):
        return _cpu_seconds(pid) if pid is not None else 0.0
    return 0.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float
    #: Each gateway process's, in the order of ``BenchSystem.gateway_pids``.
    gateway_cpu_s: tuple[float, ...]
    #: Of which in the kernel (its sockets, mostly).
    gateway_system_s: tuple[float, ...]
    #: Of which the event loop's (the main thread's; the rest is librdkafka's threads).
    gateway_loop_s: tuple[float, ...]
    gateway_rss: tuple[int, ...]
    generators_cpu_s: float
    publisher_cpu_s: float
    broker_cpu_s: float
    machine_busy: int
    machine_total: int
    ingest_offsets: int


class _Probe:
    """Reads the gateways', generators' and machine's counters, and audio-ingest's offsets."""

    def __init__(self, system: BenchSystem) -> None:
        self.gateway_pids = system.gateway_pids or [system.gateway_pid]
        self.generator_pids: list[int] = []
        self._topic = system.topics.names["audio-ingest"]
        self._consumer = Consumer(
            {"bootstrap.servers": system.topics.bootstrap_servers, "group.id": "bench-gateway"}
        )
        metadata = self._consumer.list_topics(self._topic, timeout=10)
        self._partitions = list(metadata.topics[self._topic].partitions)
        bootstrap = system.topics.bootstrap_servers.split(",")[0]
        self.broker_pid = _listening_pid(int(bootstrap.rsplit(":", 1)[1]))

    def close(self) -> None:
        self._consumer.close()

    def ingest_offsets(self) -> int:
        return sum(
            self._consumer.get_watermark_offsets(TopicPartition(self._topic, p), timeout=10)[1]
            for p in self._partitions
        )

    def snapshot(self) -> Snapshot:
        busy, total = _machine_jiffies()
        times = [_cpu_times(pid) for pid in self.gateway_pids]
        return Snapshot(
            at=time.monotonic(),
            gateway_cpu_s=tuple(user + system for user, system in times),
            gateway_system_s=tuple(system for _, system in times),
            gateway_loop_s=tuple(sum(_cpu_times(pid, thread=pid)) for pid in self.gateway_pids),
            gateway_rss=tuple(_rss_bytes(pid) for pid in self.gateway_pids),
            generators_cpu_s=sum(_cpu_seconds(pid) for pid in self.generator_pids),
            publisher_cpu_s=_cpu_seconds(os.getpid()),
            broker_cpu_s=_cpu_seconds_or_zero(self.broker_pid),
            machine_busy=busy,
            machine_total=total,
            ingest_offsets=self.ingest_offsets(),
        )


class _WindowSampler(threading.Thread):
    """Takes the window's two snapshots at their times and each gateway's peak RSS, and
    records the first gateway with py-spy over the window if asked (``profile``: the output)."""

    def __init__(self, probe: _Probe, start_at: float, end_at: float, profile: Path | None) -> None:
        super().__init__(name="window-sampler", daemon=True)
        self._probe, self._pids = probe, probe.gateway_pids
        self._start_at, self._end_at = start_at, end_at
        self._profile = profile
        self.first: Snapshot | None = None
        self.last: Snapshot | None = None
        #: Each gateway's (in the order of its pid).
        self.rss_peak = [0] * len(self._pids)

    def run(self) -> None:
        time.sleep(max(0.0, self._start_at - time.time()))
        self.first = self._probe.snapshot()
        profiler = (
            None
            if self._profile is None
            else _start_profiler(self._pids[0], self._end_at - time.time(), self._profile)
        )
        while time.time() < self._end_at:
            self.rss_peak = [
                max(peak, _rss_bytes(pid))
                for peak, pid in zip(self.rss_peak, self._pids, strict=True)
            ]
            time.sleep(min(0.5, max(0.0, self._end_at - time.time())))
        self.last = self._probe.snapshot()
        if profiler is not None:
            profiler.wait(timeout=60)


# --------------------------------------------------------------------------- results publisher


def _result(session_id: str, number: int) -> TranscriptionCompleted:
    """The ``number``-th result of a session: a segment's partials growing, then its final."""
    segment, revision = divmod(number, REVISIONS)
    words = _WORDS[: 3 * (revision + 1)]
    start_ms = segment * 5000
    return TranscriptionCompleted(
        session_id=session_id,
        segment_id=f"seg-{segment:05d}",
        revision=revision,
        is_final=revision == REVISIONS - 1,
        run_id=LIVE_RUN,
        pipeline_version="bench",
        model="tiny.en",
        text=" ".join(words),
        language="en",
        start_ms=start_ms,
        end_ms=start_ms + 300 * len(words),
        words=[
            WordTiming(
                word=f" {word}",
                start_ms=start_ms + 300 * i,
                end_ms=start_ms + 300 * i + 250,
                probability=0.9,
            )
            for i, word in enumerate(words)
        ],
        speaker="SPEAKER_00",
        latency=LatencyMetrics(asr_ms=150, queue_ms=5, end_of_speech_to_result_ms=600),
    )


def _encoded(payload: EventPayload, due: float) -> bytes:
    envelope = new_event(payload, source="bench-results")
    stamped = dataclasses.replace(envelope, timestamp=datetime.fromtimestamp(due, UTC))
    return encode_event(stamped)


def _result_schedule(
    sessions: list[str], load: LoadSettings, audio_at: float
) -> Iterator[tuple[float, str, int]]:
    """(due, session, number) of every result, in time order: each session at its phase."""
    period = 1 / load.results_per_s if load.results_per_s > 0 else 0.0
    for number in range(load.results_per_session):
        for index, session_id in enumerate(sessions):
            yield audio_at + (number + index / len(sessions)) * period, session_id, number


def _encode_results(
    sessions: list[str], load: LoadSettings, audio_at: float
) -> list[tuple[float, bytes, bytes]]:
    return [
        (due, encode_key(session_id), _encoded(_result(session_id, number), due))
        for due, session_id, number in _result_schedule(sessions, load, audio_at)
    ]


def _encoding_seconds(sessions: list[str], load: LoadSettings) -> float:
    """How long encoding every result will take (timed on a sample)."""
    total = len(sessions) * load.results_per_session
    sample = min(total, 200)
    if sample == 0:
        return 0.0
    began = time.perf_counter()
    for number in range(sample):
        _encoded(_result(sessions[0], number), time.time())
    return (time.perf_counter() - began) / sample * total


class _ResultsPublisher:
    def __init__(self, system: BenchSystem) -> None:
        self._topic = system.topics.names["audio-results"]
        self._producer = Producer(
            {
                "bootstrap.servers": system.topics.bootstrap_servers,
                "linger.ms": 2,
                "enable.idempotence": True,
                "acks": "all",
            }
        )
        #: How late each result left, in ms (counted against the gateway).
        self.lateness_ms: list[float] = []

    def publish_at_due(self, encoded: list[tuple[float, bytes, bytes]]) -> None:
        for due, key, value in encoded:
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            self._producer.produce(self._topic, value, key)
            self._producer.poll(0)
            self.lateness_ms.append(max(0.0, time.time() - due) * 1000)
        self._producer.flush(30)

    def complete(self, sessions: list[str], load: LoadSettings) -> None:
        for session_id in sessions:
            payload = SessionProcessingCompleted(
                session_id=session_id,
                run_id=LIVE_RUN,
                final_segment_count=load.results_per_session // REVISIONS,
                audio_duration_ms=int(load.seconds * 1000),
                last_seq=int(load.seconds * 1000 / load.chunk_ms) - 1,
            )
            self._producer.produce(
                self._topic, _encoded(payload, time.time()), encode_key(session_id)
            )
            self._producer.poll(0)
        self._producer.flush(30)


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True, slots=True)
class GatewayLoadFigures:
    load: LoadSettings
    opened: int
    watchers_opened: int
    failed: dict[str, int]
    closes: dict[str, int]
    early: dict[str, int]
    errors: dict[str, int]
    window_s: float
    #: Chunks acknowledged on audio-ingest per second of the window.
    chunks_per_s: float
    results_expected: int
    results_received: int
    latency_ms: list[float]
    watcher_latency_ms: list[float]
    #: Of all results (live sockets' and watchers'), those published in the steady window.
    window_latency_ms: list[float]
    publisher_late_p99_ms: float
    send_lag_ms: list[float]
    #: The clients' send buffers: 99th percentile of their peaks, in ms of audio.
    buffered_peak_ms: float
    audio_sent_ms: int
    audio_acknowledged_ms: int
    end_to_ended_ms: list[float]
    #: Each gateway process's CPU over the window, in cores (1.0 = one core busy).
    gateway_cpus: list[float]
    #: The part of it in the kernel.
    gateway_system_cpus: list[float]
    #: The event loop's (main thread's) part: 1.0 is one process's ceiling.
    gateway_loop_cpus: list[float]
    generators_cpu: float
    publisher_cpu: float
    #: The Kafka broker's (nan if it could not be found: a remote broker).
    broker_cpu: float
    machine_cpu: float
    machine_cores: int
    #: Each gateway process's RSS: before any socket, with every socket open (silent), and
    #: its peak while streaming.
    rss_idles: list[int]
    rss_connecteds: list[int]
    rss_streamings: list[int]
    profile: list[str] = field(default_factory=list)

    @property
    def gateway_cpu(self) -> float:
        """All gateway processes' CPU together, in cores."""
        return sum(self.gateway_cpus)

    @property
    def gateway_system_cpu(self) -> float:
        return sum(self.gateway_system_cpus)

    @property
    def rss_idle(self) -> int:
        return sum(self.rss_idles)

    @property
    def rss_connected(self) -> int:
        return sum(self.rss_connecteds)

    @property
    def rss_streaming(self) -> int:
        """The sum of each gateway's peak while streaming."""
        return sum(self.rss_streamings)

    @property
    def bytes_per_connection(self) -> float:
        """Gateway RSS (all processes) per live socket while streaming, over their RSS before
        any socket."""
        sockets = self.opened + self.watchers_opened
        return (self.rss_streaming - self.rss_idle) / sockets if sockets else float("nan")

    @property
    def holds(self) -> bool:
        """Every socket opened, took real time (97 % of the chunks in the window: their
        phases make the count jitter) and closed normally, with all its audio accepted."""
        return (
            self.opened == self.load.connections
            and self.closes.get("1000", 0) == self.opened
            and self.chunks_per_s >= 0.97 * self.load.expected_chunks_per_s
            and self.acknowledged_share >= 0.999
        )

    @property
    def kernel_share(self) -> float:
        return self.gateway_system_cpu / self.gateway_cpu if self.gateway_cpu else 0.0

    @property
    def cpu_us_per_chunk(self) -> float:
        """The gateway's CPU per chunk accepted (everything it did, over the chunks)."""
        return self.gateway_cpu / self.chunks_per_s * 1e6 if self.chunks_per_s else float("nan")

    @property
    def acknowledged_share(self) -> float:
        """Audio the gateway said Kafka had (``stream_ended``) over the audio sent."""
        return self.audio_acknowledged_ms / self.audio_sent_ms if self.audio_sent_ms else 0.0

    @property
    def idle_bytes_per_connection(self) -> float:
        sockets = self.opened + self.watchers_opened
        return (self.rss_connected - self.rss_idle) / sockets if sockets else float("nan")


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) if values else float("nan")


async def create_sessions(system: BenchSystem, count: int, *, concurrency: int = 16) -> list[str]:
    """``count`` sessions through the REST API, a few requests at a time; session n through
    gateway n mod K (where its socket will go too)."""
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {system.api_key}"}
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, headers=headers, timeout=60)
            )
            for url in system.gateway_urls or [system.gateway_url]
        ]

        async def one(number: int) -> str:
            async with limit:
                answer = await clients[number % len(clients)].post(
                    "/api/sessions", json={"title": f"load {number}", "language": "en"}
                )
                answer.raise_for_status()
                return str(answer.json()["session_id"])

        return list(await asyncio.gather(*(one(n) for n in range(count))))


def _plans(system: BenchSystem, load: LoadSettings, sessions: list[str]) -> list[GeneratorPlan]:
    """The sessions split between the generator processes, in contiguous shares."""
    count = max(1, min(load.generators, len(sessions)))
    bounds = [len(sessions) * g // count for g in range(count + 1)]
    watched = sessions[: load.watchers]
    return [
        GeneratorPlan(
            gateway_urls=system.gateway_urls or [system.gateway_url],
            api_key=system.api_key,
            sessions=sessions[bounds[g] : bounds[g + 1]],
            watched=watched[len(watched) * g // count : len(watched) * (g + 1) // count],
            first_index=bounds[g],
            first_watched=len(watched) * g // count,
            total=len(sessions),
            frame_ms=load.frame_ms,
            frames=load.frames,
            compression=load.compression,
            ramp_per_s=load.ramp_per_s / count,
            report_path=str(system.log_dir / f"generator{g}.json"),
        )
        for g in range(count)
    ]


def _start_generators(plans: list[GeneratorPlan]) -> list[subprocess.Popen[str]]:
    processes = []
    for plan in plans:
        with Path(plan.report_path).with_suffix(".log").open("w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.gateway_load", "--generator"],
                cwd=Path(__file__).resolve().parents[1],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert process.stdin is not None
        process.stdin.write(json.dumps(dataclasses.asdict(plan)) + "\n")
        process.stdin.flush()
        processes.append(process)
    return processes


def _wait_ready(processes: list[subprocess.Popen[str]]) -> None:
    for process in processes:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"a load generator exited early ({process.wait()})")


def _go(processes: list[subprocess.Popen[str]], audio_at: float, close_by: float) -> None:
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(json.dumps({"audio_at": audio_at, "close_by": close_by}) + "\n")
        process.stdin.flush()


def _reports(
    processes: list[subprocess.Popen[str]], plans: list[GeneratorPlan], timeout: float
) -> list[GeneratorReport]:
    reports = []
    for process, plan in zip(processes, plans, strict=True):
        process.communicate(timeout=timeout)
        if process.returncode != 0:
            log = Path(plan.report_path).with_suffix(".log")
            tail = "\n".join(log.read_text().splitlines()[-15:])
            raise RuntimeError(f"a load generator failed ({process.returncode}), {log}:\n{tail}")
        reports.append(GeneratorReport.from_json(Path(plan.report_path).read_text()))
    return reports


def _merge(reports: list[GeneratorReport]) -> GeneratorReport:
    merged = GeneratorReport()
    for report in reports:
        for item in dataclasses.fields(GeneratorReport):
            mine, theirs = getattr(merged, item.name), getattr(report, item.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            elif isinstance(mine, list):
                mine.extend(theirs)
            elif item.name == "buffered_peak_p99":
                merged.buffered_peak_p99 = max(mine, theirs)
            else:
                setattr(merged, item.name, mine + theirs)
    return merged


@dataclass(frozen=True, slots=True)
class _Timeline:
    """Wall-clock times of the run, all from the one agreed start."""

    audio_at: float
    end_at: float
    window_start: float
    window_end: float
    complete_at: float
    close_by: float

    @classmethod
    def starting(cls, audio_at: float, load: LoadSettings) -> _Timeline:
        end_at = audio_at + load.frames * load.frame_ms / 1000 + load.frame_ms / 1000
        warm_up = min(WARM_UP_S, load.seconds / 3)
        complete_at = end_at + COMPLETION_DELAY_S
        return cls(
            audio_at=audio_at,
            end_at=end_at,
            window_start=audio_at + warm_up,
            window_end=end_at - min(1.0, load.seconds / 10) - load.frame_ms / 1000,
            complete_at=complete_at,
            close_by=complete_at + CLOSE_WAIT_S,
        )


def _start_profiler(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise RuntimeError("--profile needs py-spy: uv run --frozen --with py-spy ...")
    return subprocess.Popen(  # noqa: S603 - py-spy, found on PATH
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "100",
            # Not stopping the gateway for each sample: it has no core to spare.
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_summary(path: Path, top: int = 25) -> list[str]:
    """py-spy's collapsed stacks as the functions with most samples, by themselves (self)
    and with what they call (total), in percent of the gateway's busy samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        if stack.startswith("_bootstrap (threading"):
            continue  # a worker thread (anyio's, waiting for work): not the event loop
        frames = [
            frame.rsplit(":", 1)[0] + ")" if ":" in frame else frame for frame in stack.split(";")
        ]
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    if total == 0:
        return []
    rows = [
        f"self {own[f] / total:5.1%}  total {inclusive[f] / total:5.1%}  {f}"
        for f, _ in own.most_common(top)
    ]
    rows.append("by total:")
    rows += [f"total {n / total:5.1%}  {f}" for f, n in inclusive.most_common(top)]
    return rows


def gateway_load_run(
    system: BenchSystem, load: LoadSettings, *, profile: Path | None = None
) -> GatewayLoadFigures:
    """One run on a running system (its gateways started with ``load.gateway_env()``)."""
    sessions = asyncio.run(create_sessions(system, load.connections))
    probe = _Probe(system)
    publisher = _ResultsPublisher(system)
    generators: list[subprocess.Popen[str]] = []
    try:
        idle = probe.snapshot()
        plans = _plans(system, load, sessions)
        generators = _start_generators(plans)
        probe.generator_pids = [process.pid for process in generators]
        _wait_ready(generators)
        connected = probe.snapshot()
        # Start once every result is encoded (estimated with room to spare), at least 2 s on.
        audio_at = time.time() + max(2.0, 1.5 * _encoding_seconds(sessions, load) + 1.0)
        timeline = _Timeline.starting(audio_at, load)
        encoded = _encode_results(sessions, load, audio_at)
        _go(generators, audio_at, timeline.close_by)
        sampler = _WindowSampler(probe, timeline.window_start, timeline.window_end, profile)
        sampler.start()
        publisher.publish_at_due(encoded)
        time.sleep(max(0.0, timeline.complete_at - time.time()))
        publisher.complete(sessions, load)
        reports = _reports(generators, plans, timeout=timeline.close_by - time.time() + 30)
        sampler.join()
    finally:
        probe.close()
        for process in generators:
            if process.poll() is None:
                process.kill()
    assert sampler.first is not None
    assert sampler.last is not None
    return _figures(
        load,
        _merge(reports),
        (idle, connected, sampler.first, sampler.last, sampler.rss_peak),
        publisher.lateness_ms,
        profile_summary(profile) if profile is not None and profile.exists() else [],
        timeline,
    )


def _figures(
    load: LoadSettings,
    report: GeneratorReport,
    snapshots: tuple[Snapshot, Snapshot, Snapshot, Snapshot, list[int]],
    lateness_ms: list[float],
    profile: list[str],
    timeline: _Timeline,
) -> GatewayLoadFigures:
    idle, connected, first, last, rss_peak = snapshots
    window = last.at - first.at
    machine_share = (last.machine_busy - first.machine_busy) / max(
        1, last.machine_total - first.machine_total
    )
    cores = os.cpu_count() or 1
    return GatewayLoadFigures(
        load=load,
        opened=report.opened,
        watchers_opened=report.watchers_opened,
        failed=dict(report.failed),
        closes=dict(report.closes),
        early=dict(report.early),
        errors=dict(report.errors),
        window_s=window,
        chunks_per_s=(last.ingest_offsets - first.ingest_offsets) / window,
        results_expected=(report.opened + report.watchers_opened) * load.results_per_session,
        results_received=len(report.latency_ms) + len(report.watcher_latency_ms),
        latency_ms=report.latency_ms,
        watcher_latency_ms=report.watcher_latency_ms,
        window_latency_ms=[
            latency
            for latency, emitted in zip(
                report.latency_ms + report.watcher_latency_ms,
                report.emitted_s + report.watcher_emitted_s,
                strict=True,
            )
            if timeline.window_start <= emitted <= timeline.window_end
        ],
        publisher_late_p99_ms=_percentile(lateness_ms, 99),
        send_lag_ms=report.send_lag_ms,
        buffered_peak_ms=report.buffered_peak_p99 / (SAMPLE_RATE * 2) * 1000,
        audio_sent_ms=report.frames_sent * load.frame_ms,
        audio_acknowledged_ms=report.audio_acknowledged_ms,
        end_to_ended_ms=report.end_to_ended_ms,
        gateway_cpus=_rates(first.gateway_cpu_s, last.gateway_cpu_s, window),
        gateway_system_cpus=_rates(first.gateway_system_s, last.gateway_system_s, window),
        gateway_loop_cpus=_rates(first.gateway_loop_s, last.gateway_loop_s, window),
        generators_cpu=(last.generators_cpu_s - first.generators_cpu_s) / window,
        publisher_cpu=(last.publisher_cpu_s - first.publisher_cpu_s) / window,
        broker_cpu=(last.broker_cpu_s - first.broker_cpu_s) / window
        if last.broker_cpu_s
        else float("nan"),
        machine_cpu=machine_share * cores,
        machine_cores=cores,
        rss_idles=list(idle.gateway_rss),
        rss_connecteds=list(connected.gateway_rss),
        rss_streamings=[max(pair) for pair in zip(rss_peak, last.gateway_rss, strict=True)],
        profile=profile,
    )


def _rates(first: tuple[float, ...], last: tuple[float, ...], seconds: float) -> list[float]:
    return [(end - start) / seconds for start, end in zip(first, last, strict=True)]


def gateway_load(load: LoadSettings, *, profile: Path | None = None) -> GatewayLoadFigures:
    """Kafka, PostgreSQL and ``load.gateways`` gateways (no pipeline, no projector), and one
    run on them."""
    _raise_open_files_limit()
    with running_system(
        load.gateway_env(), pipeline_workers=0, projector=False, gateways=load.gateways
    ) as system:
        return gateway_load_run(system, load, profile=profile)


def _raise_open_files_limit() -> None:
    """A socket is a file: the gateway (started from here) inherits this process's limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65_536 if hard == resource.RLIM_INFINITY else min(hard, 65_536)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# --------------------------------------------------------------------------- printing


def _codes(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} x {code}" for code, n in sorted(counts.items())) or "none"


def _each(values: list[float], style: str) -> str:
    """Per gateway process: ``0.81 + 0.80``."""
    return " + ".join(style.format(value) for value in values)


def _ms(values: list[float]) -> str:
    return f"p50 {_percentile(values, 50):.0f} ms  p99 {_percentile(values, 99):.0f} ms"


def gateway_load_rows(figures: GatewayLoadFigures) -> list[tuple[str, str]]:
    """The run's rows for the benchmark table: (name, value)."""
    load = figures.load
    expected = load.expected_chunks_per_s
    mb = 1024 * 1024
    latencies = figures.latency_ms + figures.watcher_latency_ms
    others = {code: n for code, n in figures.closes.items() if code != "1000"}
    several = len(figures.gateway_cpus) > 1
    return [
        (
            f"gateway: {load.describe()}",
            ("HOLDS" if figures.holds else "FALLS BEHIND")
            + f": {figures.opened:,}/{load.connections:,} opened"
            + (f" (+{figures.watchers_opened:,} watchers)" if load.watchers else "")
            + f", {figures.closes.get('1000', 0):,} closed 1000 at the end; failed:"
            f" {_codes(figures.failed)}; closed early: {_codes(figures.early)}; other closes:"
            f" {_codes(others)}; errors told: {_codes(figures.errors)}",
        ),
        (
            "  chunks accepted (acked on audio-ingest)",
            f"{figures.chunks_per_s:,.0f}/s of {expected:,.0f}/s real time"
            f" ({figures.chunks_per_s / expected:.1%}); audio acknowledged at the end"
            f" {figures.acknowledged_share:.1%} of sent; end -> stream_ended"
            f" {_ms(figures.end_to_ended_ms)}",
        ),
        (
            "  result publish -> client socket",
            f"steady window {_ms(figures.window_latency_ms)}; whole run {_ms(latencies)}"
            f"  max {max(latencies, default=float('nan')):.0f} ms"
            f"  ({figures.results_received:,}/{figures.results_expected:,} results,"
            f" {load.results_per_s:g}/s a session)",
        ),
        (
            "  gateway CPU" + (", all processes" if several else ""),
            f"{figures.gateway_cpu:.2f} core ("
            + (f"{_each(figures.gateway_cpus, '{:.2f}')}; " if several else "")
            + f"{figures.kernel_share:.0%} in the kernel), event loop"
            f" {_each(figures.gateway_loop_cpus, '{:.2f}')} core;"
            f" {figures.cpu_us_per_chunk:,.0f} us a chunk accepted",
        ),
        (
            "  gateway memory" + (", all processes" if several else ""),
            f"{figures.bytes_per_connection / 1024:.0f} KB a connection streaming"
            f" ({figures.idle_bytes_per_connection / 1024:.0f} KB open and silent); RSS"
            f" {figures.rss_idle / mb:.0f} MB before the sockets,"
            f" {figures.rss_streaming / mb:.0f} MB at most while streaming"
            + (
                f" ({_each([r / mb for r in figures.rss_streamings], '{:.0f}')} MB)"
                if several
                else ""
            ),
        ),
        (
            "  CPU besides: generators, publisher, broker",
            f"{figures.generators_cpu:.2f}, {figures.publisher_cpu:.2f},"
            f" {figures.broker_cpu:.2f} core; machine {figures.machine_cpu:.2f} of"
            f" {figures.machine_cores} cores busy",
        ),
        (
            "  clients: frame lateness; send buffer",
            f"{_ms(figures.send_lag_ms)}; p99 {figures.buffered_peak_ms:.0f} ms of audio;"
            f" results published late p99 {figures.publisher_late_p99_ms:.0f} ms",
        ),
    ]


def print_rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        print(f"{name:<{width}}{value}")


def _arguments() -> argparse.Namespace:
    defaults = LoadSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=defaults.connections)
    parser.add_argument("--seconds", type=float, default=defaults.seconds)
    parser.add_argument("--chunk-ms", type=int, default=defaults.chunk_ms, help="the gateway's")
    parser.add_argument("--frame-ms", type=int, default=None, help="default: the chunk's")
    parser.add_argument("--results-per-s", type=float, default=defaults.results_per_s)
    parser.add_argument("--watchers", type=int, default=defaults.watchers)
    parser.add_argument("--generators", type=int, default=defaults.generators)
    parser.add_argument(
        "--gateways", type=int, default=defaults.gateways, help="gateway processes (round-robin)"
    )
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--ramp", type=float, default=defaults.ramp_per_s, help="handshakes/s")
    parser.add_argument("--profile", type=Path, help="py-spy the gateway into this file")
    parser.add_argument("--generator", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    arguments = _arguments()
    if arguments.generator:
        generator_main()
        return
    if arguments.profile is not None and shutil.which("py-spy") is None:
        sys.exit("--profile needs py-spy: uv run --frozen --with py-spy python -m ...")
    load = LoadSettings(
        connections=arguments.connections,
        seconds=arguments.seconds,
        chunk_ms=arguments.chunk_ms,
        frame_ms=arguments.frame_ms or arguments.chunk_ms,
        results_per_s=arguments.results_per_s,
        watchers=arguments.watchers,
        generators=arguments.generators,
        compression=not arguments.no_compression,
        ramp_per_s=arguments.ramp,
        gateways=arguments.gateways,
    )
    figures = gateway_load(load, profile=arguments.profile)
    print()
    print_rows(gateway_load_rows(figures))
    if figures.profile:
        print("\ngateway profile (py-spy, busy samples):")
        print("\n".join(figures.profile))


if __name__ == "__main__":
    main()
