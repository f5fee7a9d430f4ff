"""``make demo``: start the local stack and the services, send a recording, print its transcript.

    python -m livetranslate_gateway.demo [--audio FILE] [--json] [--live] [--translate en,es]
        [--speaker-names SPEAKER_00=Alice,SPEAKER_01=Bob]

Human output goes to the terminal as segments arrive; with ``--json`` stdout carries only
one JSON object per final segment, and everything else goes to stderr. ``--live`` streams
the file over the live audio socket at real-time pace instead of uploading it (partial
results show on a terminal's stderr as they change); ``--translate`` asks for translations
of every final segment, printed (or added to its JSON object) with it; ``--speaker-names``
names speaker labels in advance (shown instead of the label, or as ``speaker_name`` in JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
import soxr

from livetranslate_common.devstack.processes import ProcessStartError, free_port, port_open
from livetranslate_common.devstack.services import (
    gateway_process,
    pipeline_process,
    projector_process,
)
from livetranslate_common.devstack.stack import DevStack
from livetranslate_gateway.client import GatewayClient, GatewayRequestError, LiveStreamError
from livetranslate_gateway.keys import issue_key_for

SAMPLE = Path(__file__).parent / "samples" / "weekly-planning.flac"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _clock(ms: int) -> str:
    minutes, rest = divmod(ms, 60_000)
    return f"{minutes:02d}:{rest / 1000:05.2f}"


_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_SPEAKER_LABEL = re.compile(r"SPEAKER_[0-9]{2,3}")
MAX_TRANSLATIONS = 5


def _final_record(message: dict[str, Any], translations: dict[str, str] | None) -> dict[str, Any]:
    record = {
        "session_id": message["session_id"],
        "segment_id": message["segment_id"],
        "start_ms": message["start_ms"],
        "end_ms": message["end_ms"],
        "text": message["text"],
        "speaker": message.get("speaker"),
    }
    if message.get("speaker_name"):
        record["speaker_name"] = message["speaker_name"]
    if translations is not None:
        record["translations"] = translations
    return record


@dataclass
class ResultPrinter:
    """Prints each final segment once, with its translations when targets were requested.

    A final waits for a translation into every target (they may arrive before or after
    it); whatever is still waiting when the session completes is printed with what came.
    """

    targets: list[str]
    as_json: bool
    show_partials: bool = False
    finals: int = 0
    #: Finals waiting for translations, by segment id.
    _waiting: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Latest translation per segment and target: (revision, text).
    _translations: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)
    _partial_shown: bool = False

    def handle(self, message: dict[str, Any]) -> bool:
        """Take one message; True once the session has completed."""
        kind = message.get("type")
        if kind == "segment" and message["is_final"]:
            self._waiting[message["segment_id"]] = message
            self._print_ready(message["segment_id"])
        elif kind == "segment":
            self._partial(message)
        elif kind == "translation":
            known = self._translations.setdefault(message["segment_id"], {})
            previous = known.get(message["target_language"])
            if previous is None or message["revision"] >= previous[0]:
                known[message["target_language"]] = (message["revision"], message["text"])
            self._print_ready(message["segment_id"])
        elif kind == "error" and "stage" in message:
            _say(f"pipeline error in {message['stage']}: {message['message']}")
        elif kind == "error":
            _say(f"gateway error {message.get('code')}: {message.get('message')}")
        elif kind == "session_completed":
            for segment_id in sorted(self._waiting, key=lambda s: self._waiting[s]["start_ms"]):
                self._print(self._waiting[segment_id])
            self._waiting.clear()
            return True
        return False

    def _print_ready(self, segment_id: str) -> None:
        final = self._waiting.get(segment_id)
        if final is None:
            return
        known = self._translations.get(segment_id, {})
        if all(known.get(t, (-1, ""))[0] >= final["revision"] for t in self.targets):
            del self._waiting[segment_id]
            self._print(final)

    def _print(self, final: dict[str, Any]) -> None:
        self.finals += 1
        known = self._translations.pop(final["segment_id"], {})
        translations = (
            {target: known[target][1] for target in self.targets if target in known}
            if self.targets
            else None
        )
        if self.as_json:
            print(json.dumps(_final_record(final, translations)), flush=True)
            return
        self._clear_partial()
        span = f"{_clock(final['start_ms'])} - {_clock(final['end_ms'])}"
        who = final.get("speaker_name") or final.get("speaker")
        speaker = f"{who}: " if who else ""
        print(f"[{span}] {speaker}{final['text']}", flush=True)
        for target, text in (translations or {}).items():
            print(f"{'':17}{target}: {text}", flush=True)

    def _partial(self, message: dict[str, Any]) -> None:
        if not self.show_partials or self.as_json:
            return
        # Overwrite one status line on the terminal's stderr as the open utterance grows.
        text = f"... {message['text']}"[:200]
        print(f"\r\x1b[K{text}", end="", file=sys.stderr, flush=True)
        self._partial_shown = True

    def _clear_partial(self) -> None:
        if self._partial_shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)
            self._partial_shown = False


async def _print_results(results: AsyncIterable[dict[str, Any]], printer: ResultPrinter) -> None:
    """Print results as they arrive, until the session completes."""
    async for message in results:
        if printer.handle(message):
            break


def load_for_live(path: Path) -> tuple[npt.NDArray[np.float32], int]:
    """A file's samples as (frames, channels) float32 at a rate the live socket accepts."""
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    if samples.shape[1] > 2:
        samples = samples.mean(axis=1, keepdims=True, dtype=np.float32)
    if not 8_000 <= rate <= 48_000:
        samples = soxr.resample(samples, rate, 16_000).astype(np.float32)
        rate = 16_000
    return np.ascontiguousarray(samples, dtype=np.float32), int(rate)


async def transcribe_file(
    gateway_url: str,
    audio: Path,
    *,
    api_key: str,
    as_json: bool,
    live: bool = False,
    translate_to: list[str] | None = None,
    speaker_names: dict[str, str] | None = None,
) -> int:
    """Send one recording through the gateway; print final segments; return their count."""
    targets = list(translate_to or [])
    printer = ResultPrinter(targets, as_json=as_json, show_partials=live and sys.stderr.isatty())
    async with GatewayClient(gateway_url, api_key=api_key) as client:
        session = await client.create_session(
            title=audio.name[:200], translate_to=targets, speaker_names=speaker_names or {}
        )
        session_id = session["session_id"]
        started = time.monotonic()
        if live:
            duration_ms = await _stream_live(client, session_id, audio, printer)
        else:
            duration_ms = await _upload(client, session_id, audio, printer)
        _say(
            f"done: {printer.finals} segments for {duration_ms / 1000:.1f} s of audio "
            f"in {time.monotonic() - started:.1f} s"
        )
        return printer.finals


async def _upload(
    client: GatewayClient, session_id: str, audio: Path, printer: ResultPrinter
) -> int:
    data = await asyncio.to_thread(audio.read_bytes)
    _say(f"session {session_id}: sending {audio} ({len(data)} bytes)")
    async with client.results(session_id) as results:
        printing = asyncio.create_task(_print_results(results, printer))
        try:
            accepted = await client.upload_audio(session_id, data)
        except GatewayRequestError:
            printing.cancel()
            raise
        await printing
    duration_ms: int = accepted["duration_ms"]
    return duration_ms


async def _stream_live(
    client: GatewayClient, session_id: str, audio: Path, printer: ResultPrinter
) -> int:
    samples, rate = await asyncio.to_thread(load_for_live, audio)
    channels = samples.shape[1]
    _say(
        f"session {session_id}: streaming {audio} live "
        f"({len(samples) / rate:.1f} s, {rate} Hz, {channels} channel(s))"
    )
    duration_ms = len(samples) * 1000 // rate
    async with client.stream_audio(
        session_id, samples, sample_rate_hz=rate, channels=channels, frame_ms=40
    ) as stream:
        async for message in stream:
            if message["type"] == "stream_ended":
                duration_ms = message["duration_ms"]
                _say(f"audio sent ({message['chunks']} chunks); waiting for the last results")
            elif printer.handle(message):
                break
    return duration_ms


def parse_targets(value: str) -> list[str]:
    """``--translate en,es`` -> ["en", "es"] (BCP-47-ish codes, at most five, no repeats)."""
    targets = list(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    bad = [t for t in targets if not _LANGUAGE.match(t)]
    if bad:
        raise argparse.ArgumentTypeError(f"not a language code: {', '.join(bad)}")
    if len(targets) > MAX_TRANSLATIONS:
        raise argparse.ArgumentTypeError(f"at most {MAX_TRANSLATIONS} target languages")
    return targets


def parse_speaker_names(value: str) -> dict[str, str]:
    """``--speaker-names SPEAKER_00=Alice,SPEAKER_01=Bob`` -> {"SPEAKER_00": "Alice", ...}
    (the gateway checks the names themselves)."""
    names: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        label, equals, name = (text.strip() for text in item.partition("="))
        if not equals or not _SPEAKER_LABEL.fullmatch(label):
            raise argparse.ArgumentTypeError(f"not LABEL=name with a SPEAKER_00 label: {item}")
        names[label] = name
    return names


def _external_infrastructure() -> bool:
    return bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"))


def _services(stack: DevStack, env: dict[str, str]) -> tuple[str, list[Any]]:
    run_dir = stack.stack_dir / "demo"
    gateway_port = 8000 if not port_open("127.0.0.1", 8000) else free_port()
    pipeline = pipeline_process(run_dir, web_port=free_port(), env=env)
    projector = projector_process(run_dir, web_port=free_port(), env=env)
    gateway = gateway_process(run_dir, port=gateway_port, env=env)
    return f"http://127.0.0.1:{gateway_port}", [pipeline, projector, gateway]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio", type=Path, default=SAMPLE, help="any audio file")
    parser.add_argument("--json", action="store_true", help="one JSON object per final segment")
    parser.add_argument(
        "--live", action="store_true", help="stream the file at real-time pace instead of uploading"
    )
    parser.add_argument(
        "--translate",
        type=parse_targets,
        default=[],
        metavar="LANGS",
        help="translate each final segment into these languages, e.g. en,es",
    )
    parser.add_argument(
        "--speaker-names",
        type=parse_speaker_names,
        default={},
        metavar="NAMES",
        help="names for speaker labels, e.g. SPEAKER_00=Alice,SPEAKER_01=Bob",
    )
    args = parser.parse_args(argv)
    if not args.audio.is_file():
        _say(f"no such audio file: {args.audio}")
        return 2
    # A terminated demo still stops what it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack = DevStack()
    external = _external_infrastructure()
    env = dict(os.environ) if external else {**os.environ, **stack.service_env()}
    env.setdefault("LIVETRANSLATE_TOPIC_PREFIX", "")
    services: list[Any] = []
    infrastructure_started: list[str] = []
    try:
        if external:
            from livetranslate_common.topics import ensure_topics

            _say(f"using Kafka at {env['KAFKA_BOOTSTRAP_SERVERS']} and DATABASE_URL")
            ensure_topics(env["KAFKA_BOOTSTRAP_SERVERS"], prefix=env["LIVETRANSLATE_TOPIC_PREFIX"])
        else:
            _say(f"starting Kafka and PostgreSQL under {stack.stack_dir} ...")
            result = stack.up()
            infrastructure_started = list(result.started)
        gateway_url, services = _services(stack, env)
        for service in services:
            # A demo killed before its clean-up left its services running: replace them.
            service.stop()
            _say(f"starting {service.name} (log: {service.log_file}) ...")
            service.start(wait=False)
        for service in services:
            service.wait_ready(timeout=180)
        _say(f"gateway ready at {gateway_url}")
        # The demo's own tenant, a new key each run (only its digest is stored).
        api_key = issue_key_for(env["DATABASE_URL"], tenant_id="demo", name="make demo")
        finals = asyncio.run(
            transcribe_file(
                gateway_url,
                args.audio,
                api_key=api_key,
                as_json=args.json,
                live=args.live,
                translate_to=args.translate,
                speaker_names=args.speaker_names,
            )
        )
        if finals == 0:
            _say("no speech was found in the recording")
        return 0
    except (
        ProcessStartError,
        GatewayRequestError,
        LiveStreamError,
        RuntimeError,
        OSError,
        TimeoutError,
        soundfile.LibsndfileError,
    ) as error:
        _say(f"demo failed: {error}")
        return 1
    finally:
        for service in reversed(services):
            service.stop()
        if infrastructure_started:
            _say("stopping the local stack")
            stack.down(only=infrastructure_started)


if __name__ == "__main__":
    sys.exit(main())
