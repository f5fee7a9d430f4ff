"""How many live sessions one worker serves at once without falling behind real time.

N clients stream the live conversation at real-time pace at the same time, each starting a
little after the previous one (so that their utterances do not all end at the same moment,
as in independent meetings). A worker keeps up when every final arrives, the latency of the
last utterances is not drifting up from the first ones (a worker that falls behind builds a
queue, and the latency grows with it), and no final waits more than a few seconds.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass

import numpy as np

from benchmarks.live import LiveFigures, live_figures, stream_session
from benchmarks.system import BenchSystem
from livetranslate_common.speech_samples import FloatSamples, SpokenLine
from livetranslate_gateway.client import GatewayClient

STAGGER_S = 0.7
# The slowest final allowed, and how much the late utterances' median latency may exceed
# the early ones' before the worker counts as falling behind.
MAX_LATENCY_MS = 3000.0
DRIFT_ALLOWED = 1.5


@dataclass(frozen=True, slots=True)
class ConcurrencyFigures:
    sessions: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    # Median latency over each session's first and last third of utterances.
    early_ms: float
    late_ms: float
    finals: int
    utterances: int
    mean_wer: float

    @property
    def keeps_up(self) -> bool:
        return (
            self.finals == self.utterances
            and self.max_ms <= MAX_LATENCY_MS
            and self.late_ms <= DRIFT_ALLOWED * self.early_ms + 200
        )


async def _one(
    system: BenchSystem, samples: FloatSamples, truth: list[SpokenLine], delay_s: float, n: int
) -> LiveFigures:
    await asyncio.sleep(delay_s)
    async with GatewayClient(system.gateway_url, api_key=system.api_key) as client:
        received = await stream_session(client, samples, title=f"bench concurrent {n}")
    return live_figures(truth, received)


async def concurrent_run(
    system: BenchSystem, samples: FloatSamples, truth: list[SpokenLine], sessions: int
) -> ConcurrencyFigures:
    figures = await asyncio.gather(
        *(_one(system, samples, truth, i * STAGGER_S, i) for i in range(sessions))
    )
    third = max(1, len(truth) // 3)
    latencies = [ms for f in figures for ms in f.latencies_ms]
    return ConcurrencyFigures(
        sessions=sessions,
        p50_ms=float(np.percentile(latencies, 50)),
        p95_ms=float(np.percentile(latencies, 95)),
        max_ms=max(latencies),
        early_ms=statistics.median(ms for f in figures for ms in f.latencies_ms[:third]),
        late_ms=statistics.median(ms for f in figures for ms in f.latencies_ms[-third:]),
        finals=sum(f.finals for f in figures),
        utterances=sum(f.utterances for f in figures),
        mean_wer=statistics.mean(f.wer for f in figures),
    )
