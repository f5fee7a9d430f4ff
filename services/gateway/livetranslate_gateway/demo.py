"""``make demo``: start the local stack and the services, send a recording, print its transcript.

    python -m livetranslate_gateway.demo [--audio FILE] [--json]

Human output goes to the terminal as segments arrive; with ``--json`` stdout carries only
one JSON object per final segment, and everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from livetranslate_common.devstack.processes import ProcessStartError, free_port, port_open
from livetranslate_common.devstack.services import gateway_process, pipeline_process
from livetranslate_common.devstack.stack import DevStack
from livetranslate_gateway.client import GatewayClient, GatewayRequestError

SAMPLE = Path(__file__).parent / "samples" / "weekly-planning.flac"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _clock(ms: int) -> str:
    minutes, rest = divmod(ms, 60_000)
    return f"{minutes:02d}:{rest / 1000:05.2f}"


def _final_record(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "session_id": message["session_id"],
        "segment_id": message["segment_id"],
        "start_ms": message["start_ms"],
        "end_ms": message["end_ms"],
        "text": message["text"],
        "speaker": message.get("speaker"),
    }


async def _print_results(results: AsyncIterator[dict[str, Any]], *, as_json: bool) -> int:
    """Print final segments as they arrive, until the session completes; their count."""
    finals = 0
    async for message in results:
        if message["type"] == "segment" and message["is_final"]:
            finals += 1
            if as_json:
                print(json.dumps(_final_record(message)), flush=True)
            else:
                span = f"{_clock(message['start_ms'])} - {_clock(message['end_ms'])}"
                print(f"[{span}] {message['text']}", flush=True)
        elif message["type"] == "error":
            _say(f"pipeline error in {message['stage']}: {message['message']}")
        elif message["type"] == "session_completed":
            break
    return finals


async def transcribe_file(gateway_url: str, audio: Path, *, as_json: bool) -> int:
    """Send one recording through the gateway; print final segments; return their count."""
    data = await asyncio.to_thread(audio.read_bytes)
    async with GatewayClient(gateway_url) as client:
        session = await client.create_session(title=audio.name[:200])
        session_id = session["session_id"]
        _say(f"session {session_id}: sending {audio} ({len(data)} bytes)")
        started = time.monotonic()
        async with client.results(session_id) as results:
            printer = asyncio.create_task(_print_results(results, as_json=as_json))
            try:
                accepted = await client.upload_audio(session_id, data)
            except GatewayRequestError:
                printer.cancel()
                raise
            finals = await printer
        _say(
            f"done: {finals} segments for {accepted['duration_ms'] / 1000:.1f} s of audio "
            f"in {time.monotonic() - started:.1f} s"
        )
        return finals


def _external_infrastructure() -> bool:
    return bool(os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DATABASE_URL"))


def _services(stack: DevStack, env: dict[str, str]) -> tuple[str, list[Any]]:
    run_dir = stack.stack_dir / "demo"
    gateway_port = 8000 if not port_open("127.0.0.1", 8000) else free_port()
    pipeline = pipeline_process(run_dir, web_port=free_port(), env=env)
    gateway = gateway_process(run_dir, port=gateway_port, env=env)
    return f"http://127.0.0.1:{gateway_port}", [pipeline, gateway]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio", type=Path, default=SAMPLE, help="any audio file")
    parser.add_argument("--json", action="store_true", help="one JSON object per final segment")
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
        finals = asyncio.run(transcribe_file(gateway_url, args.audio, as_json=args.json))
        if finals == 0:
            _say("no speech was found in the recording")
        return 0
    except (ProcessStartError, GatewayRequestError, RuntimeError, OSError, TimeoutError) as error:
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
