"""A producer that writes garbage cannot stop the pipeline: the bytes go to a dead-letter topic,
the session hears of it, and every other session keeps flowing."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from confluent_kafka import Producer

from livetranslate_common.dead_letters import ERROR_HEADER
from livetranslate_common.speech_samples import (
    FloatSamples,
    SpokenLine,
    to_wav_bytes,
    word_error_rate,
)
from livetranslate_common.testing.topic_reader import read_topic, read_topic_messages
from livetranslate_gateway.client import GatewayClient
from tests_e2e.conftest import RunningSystem

GARBAGE = b"\xc3\x01 definitely not an avro single-object encoding"


async def test_undecodable_events_are_set_aside(
    running_system: RunningSystem, short_speech: tuple[FloatSamples, list[SpokenLine]]
) -> None:
    samples, truth = short_speech
    victim = str(uuid.uuid4())
    # A record without a value (a tombstone) has nothing to process either.
    emptied = str(uuid.uuid4())
    producer = Producer({"bootstrap.servers": running_system.topics.bootstrap_servers})
    producer.produce(running_system.topics["audio-ingest"], key=victim.encode(), value=GARBAGE)
    producer.produce(running_system.topics["audio-ingest"], key=emptied.encode(), value=None)
    producer.produce(running_system.topics["audio-results"], key=victim.encode(), value=GARBAGE)
    assert producer.flush(30) == 0

    async with GatewayClient(running_system.gateway_url, api_key=running_system.api_key) as client:
        session_id = (await client.create_session())["session_id"]
        finals = []
        async with client.results(session_id) as results:
            await client.upload_audio(session_id, to_wav_bytes(samples))
            async with asyncio.timeout(120):
                async for message in results:
                    if message["type"] == "segment":
                        finals.append(message["text"])
                    if message["type"] == "session_completed":
                        break
        reference = " ".join(line.text for line in truth)
        assert word_error_rate(reference, " ".join(finals)) <= 0.1
        await client.wait_until_completed(session_id)

    for base in ("audio-ingest.dlq", "audio-results.dlq"):
        # (The tombstone's copy is a tombstone too, which the reader leaves out.)
        letters = read_topic_messages(running_system.topics, base)
        assert [(m.key, m.value) for m in letters] == [(victim.encode(), GARBAGE)]
        headers = dict(letters[0].headers)
        assert b"magic" in headers[ERROR_HEADER] or b"fingerprint" in headers[ERROR_HEADER]
    assert read_topic(running_system.topics, "audio-ingest.dlq")
    with psycopg.connect(running_system.database_url) as conn:
        for session_id in (victim, emptied):
            rows = conn.execute(
                "SELECT stage, error_code, retryable FROM processing_failures "
                "WHERE session_id = %s",
                (session_id,),
            ).fetchall()
            assert rows == [("ingest", "undecodable_event", False)]
