"""Reprocessing speed: a recorded session run again through the reprocessing worker.

The session is uploaded and transcribed first; the clock then runs from the request
(``POST .../reprocess``) to the run's COMPLETED report on the results socket, so the figure
includes reading the audio back from audio-ingest, recognition, and publishing the results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from livetranslate_common.speech_samples import (
    FloatSamples,
    SpokenLine,
    to_wav_bytes,
    word_error_rate,
)
from livetranslate_gateway.client import GatewayClient


@dataclass(frozen=True, slots=True)
class ReprocessFigures:
    model: str
    audio_s: float
    wall_s: float
    finals: int
    wer: float

    @property
    def times_real_time(self) -> float:
        return self.audio_s / self.wall_s


async def reprocess_run(
    client: GatewayClient, samples: FloatSamples, truth: list[SpokenLine], *, model: str
) -> ReprocessFigures:
    session_id = (await client.create_session(title="reprocess bench", diarize=False))["session_id"]
    await client.upload_audio(session_id, to_wav_bytes(samples), content_type="audio/wav")
    await client.wait_until_completed(session_id, within_s=600)
    started = time.perf_counter()
    run = await client.reprocess(session_id, model=model)
    # The socket opens after the request: it may miss the first report, never the last (the
    # run takes seconds).
    async with client.results(session_id, run=run["run_id"]) as results:
        async for message in results:
            if message["type"] == "run_progress" and message["status"] != "RUNNING":
                break
    wall = time.perf_counter() - started
    if message["status"] != "COMPLETED":
        raise RuntimeError(f"the reprocessing run failed: {message['error']}")
    transcript = await client.transcript(session_id, run=run["run_id"])
    text = " ".join(segment["text"] for segment in transcript["segments"])
    return ReprocessFigures(
        model=model,
        audio_s=len(samples) / 16_000,
        wall_s=wall,
        finals=message["final_segment_count"],
        wer=word_error_rate(" ".join(line.text for line in truth), text),
    )
