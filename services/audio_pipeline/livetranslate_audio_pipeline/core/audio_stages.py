"""Audio conditioning before VAD and ASR: high-pass, noise gate, loudness, peak limiter.

Each stage works chunk by chunk on float32 mono 16 kHz audio and carries everything it
remembers between chunks in a small frozen dataclass, so the Faust agent can keep a session's
``AudioStageState`` in a table (``to_dict()`` gives plain JSON values, about 2-3 kB).

Every stage is written so that its output does not depend on how the audio was cut into
chunks: filters carry their ``zi``, the loudness meter accumulates 100 ms steps on the
session's sample clock, and the envelope followers of the gate and limiter use closed forms
(a running maximum of a ramped signal) instead of per-sample Python loops. Feeding a session
in 100 ms or in 1 s chunks gives the same output up to float rounding.

Presets (``AudioStageChain.from_preset``):

- ``none``: identity.
- ``speech``: high-pass 80 Hz, loudness -23 LUFS (EBU R 128), peak limiter.
- ``noisy``: high-pass 100 Hz, noise gate, loudness -23 LUFS, peak limiter.
- ``broadcast``: high-pass 60 Hz, loudness -16 LUFS, peak limiter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from scipy import signal

from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE, Samples
from livetranslate_audio_pipeline.core.errors import PipelineError

STATE_VERSION = 1

Float64 = npt.NDArray[np.float64]

_TINY = 1e-12


class UnknownPresetError(PipelineError):
    stage = "audio_stages"
    error_code = "unknown_audio_preset"


class AudioStateError(PipelineError):
    stage = "audio_stages"
    error_code = "invalid_audio_stage_state"


def _floats(values: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


# --------------------------------------------------------------------------------------------
# High-pass


@dataclass(frozen=True, slots=True)
class HighPassState:
    cutoff_hz: float
    # scipy's sosfilt state, flattened: (sections x 2).
    zi: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"cutoff_hz": self.cutoff_hz, "zi": list(self.zi)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HighPassState:
        return cls(cutoff_hz=float(data["cutoff_hz"]), zi=_floats(data["zi"]))


class HighPass:
    """Butterworth high-pass (4th order): rumble, handling noise and mains hum out."""

    def __init__(self, cutoff_hz: float, *, order: int = 4) -> None:
        self.cutoff_hz = float(cutoff_hz)
        self.sos: Float64 = signal.butter(
            order, self.cutoff_hz, btype="highpass", fs=PIPELINE_SAMPLE_RATE, output="sos"
        )

    def initial_state(self) -> HighPassState:
        # Zero state, like a one-shot sosfilt over the whole signal.
        return HighPassState(self.cutoff_hz, (0.0,) * (self.sos.shape[0] * 2))

    def process(self, x: Float64, state: HighPassState) -> tuple[Float64, HighPassState]:
        if state.cutoff_hz != self.cutoff_hz or len(state.zi) != self.sos.shape[0] * 2:
            state = self.initial_state()  # the session switched presets
        zi = np.asarray(state.zi, dtype=np.float64).reshape(self.sos.shape[0], 2)
        y, zf = signal.sosfilt(self.sos, x, zi=zi)
        return y, HighPassState(self.cutoff_hz, _floats(zf.ravel()))


# --------------------------------------------------------------------------------------------
# Envelope helpers (vectorised, chunk-invariant)


def _peak_hold_decay(values: Float64, previous: float, decay_per_sample: float) -> Float64:
    """out[n] = max(values[n], out[n-1] - decay): instant rise, linear fall.

    Closed form: out[n] + n*d is the running maximum of values[m] + m*d (with out[-1] at
    m = 0), so no Python loop over samples is needed.
    """
    ramp = np.arange(1, len(values) + 1, dtype=np.float64) * decay_per_sample
    running = np.maximum.accumulate(np.concatenate(([previous], values + ramp)))[1:]
    result: Float64 = running - ramp
    return result


def _rise_limited(values: Float64, previous: float, rise_per_sample: float) -> Float64:
    """out[n] = min(values[n], out[n-1] + rise): follows falls at once, rises at most so fast."""
    return -_peak_hold_decay(-values, -previous, rise_per_sample)


def _one_pole(values: Float64, previous: float, time_constant_s: float) -> Float64:
    """Exponential smoother y[n] = a*y[n-1] + (1-a)*x[n] starting from ``previous``."""
    a = math.exp(-1.0 / (time_constant_s * PIPELINE_SAMPLE_RATE))
    y, _ = signal.lfilter([1.0 - a], [1.0, -a], values, zi=[a * previous])
    result: Float64 = y
    return result


def _db(power: Float64) -> Float64:
    result: Float64 = 10.0 * np.log10(np.maximum(power, 1e-20))
    return result


# --------------------------------------------------------------------------------------------
# Noise gate


@dataclass(frozen=True, slots=True)
class GateState:
    fast_power: float = 0.0  # ~5 ms mean-square envelope: opens the gate
    slow_power: float = 0.0  # ~30 ms mean-square envelope: feeds the speech level
    speech_level_db: float = -120.0  # running speech (peak) level, decays slowly
    samples_since_open: int = 1 << 30
    hold_gain_db: float = 0.0  # gain after hold/release
    gain_db: float = 0.0  # gain after the attack ramp (what is applied)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fast_power": self.fast_power,
            "slow_power": self.slow_power,
            "speech_level_db": self.speech_level_db,
            "samples_since_open": self.samples_since_open,
            "hold_gain_db": self.hold_gain_db,
            "gain_db": self.gain_db,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateState:
        return cls(
            fast_power=float(data["fast_power"]),
            slow_power=float(data["slow_power"]),
            speech_level_db=float(data["speech_level_db"]),
            samples_since_open=int(data["samples_since_open"]),
            hold_gain_db=float(data["hold_gain_db"]),
            gain_db=float(data["gain_db"]),
        )


class NoiseGate:
    """Attenuates what is far below the running speech level: hiss and hum between words.

    The speech level is a peak follower of the 30 ms envelope falling ``level_decay_db_per_s``
    (so one loud word does not shut the gate on a quieter sentence for long). The gate opens
    at once (within ``attack_ms``) when the 5 ms envelope rises above ``speech level -
    threshold_db`` (or above ``floor_dbfs`` before any speech was heard), stays open for
    ``hold_ms`` after the last loud sample so the quiet consonants and the short gaps inside
    a phrase pass, then closes by ``range_db`` over ``release_ms``.
    """

    def __init__(
        self,
        *,
        threshold_db: float = 30.0,
        floor_dbfs: float = -65.0,
        range_db: float = 30.0,
        attack_ms: float = 5.0,
        hold_ms: float = 250.0,
        release_ms: float = 150.0,
        level_decay_db_per_s: float = 1.0,
    ) -> None:
        self.threshold_db = threshold_db
        self.floor_dbfs = floor_dbfs
        self.range_db = range_db
        self.hold_samples = round(hold_ms * PIPELINE_SAMPLE_RATE / 1000)
        self.attack_per_sample = range_db / (attack_ms * PIPELINE_SAMPLE_RATE / 1000)
        self.release_per_sample = range_db / (release_ms * PIPELINE_SAMPLE_RATE / 1000)
        self.level_decay_per_sample = level_decay_db_per_s / PIPELINE_SAMPLE_RATE

    def initial_state(self) -> GateState:
        return GateState()

    def process(self, x: Float64, state: GateState) -> tuple[Float64, GateState]:
        n = len(x)
        power = x * x
        fast = _one_pole(power, state.fast_power, 0.005)
        slow = _one_pole(power, state.slow_power, 0.030)
        level = _peak_hold_decay(_db(slow), state.speech_level_db, self.level_decay_per_sample)
        # The threshold uses the level known before each sample (no look-ahead).
        previous_level = np.concatenate(([state.speech_level_db], level[:-1]))
        threshold = np.maximum(previous_level - self.threshold_db, self.floor_dbfs)
        loud = _db(fast) > threshold
        index = np.arange(n)
        last_loud = np.maximum.accumulate(np.where(loud, index, -(1 << 40)))
        since_open = np.minimum(index - last_loud, index + state.samples_since_open + 1)
        target = np.where(since_open <= self.hold_samples, 0.0, -self.range_db)
        held = _peak_hold_decay(target, state.hold_gain_db, self.release_per_sample)
        gain_db = _rise_limited(held, state.gain_db, self.attack_per_sample)
        y: Float64 = x * np.power(10.0, gain_db / 20.0)
        return y, GateState(
            fast_power=float(fast[-1]),
            slow_power=float(slow[-1]),
            speech_level_db=float(level[-1]),
            samples_since_open=int(min(since_open[-1], 1 << 30)),
            hold_gain_db=float(held[-1]),
            gain_db=float(gain_db[-1]),
        )


# --------------------------------------------------------------------------------------------
# Loudness normalisation with a peak limiter

_STEP = PIPELINE_SAMPLE_RATE // 10  # 100 ms: BS.1770 gating blocks of 400 ms, 75 % overlap
_BLOCK_STEPS = 4
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = -10.0
_HIST_LOW = -70  # histogram of block loudness, 1 LU bins from -70 to +5 LUFS
_HIST_BINS = 75


def _k_weighting_sos() -> Float64:
    """BS.1770's K-weighting, with pyloudnorm's coefficients (its Meter's two biquads)."""
    from pyloudnorm.iirfilter import IIRfilter

    stages = [
        IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, PIPELINE_SAMPLE_RATE, "high_shelf"),
        IIRfilter(0.0, 0.5, 38.0, PIPELINE_SAMPLE_RATE, "high_pass"),
    ]
    return np.array([np.concatenate((stage.b, stage.a)) for stage in stages], dtype=np.float64)


_K_SOS = _k_weighting_sos()


def _block_loudness(mean_square: float) -> float:
    return -0.691 + 10.0 * math.log10(max(mean_square, 1e-20))


@dataclass(frozen=True, slots=True)
class LoudnessState:
    k_zi: tuple[float, ...] = (0.0,) * 4  # K-weighting filter state
    step_sum: float = 0.0  # sum of squares of the open 100 ms step
    step_count: int = 0
    recent_steps: tuple[float, ...] = ()  # sums of squares of the last 3 closed steps
    # Gated blocks by loudness: exponentially forgotten counts and mean-square sums.
    hist_count: tuple[float, ...] = (0.0,) * _HIST_BINS
    hist_energy: tuple[float, ...] = (0.0,) * _HIST_BINS
    blocks_measured: int = 0
    target_gain_db: float = 0.0
    gain_db: float = 0.0
    limiter_peak: float = 0.0

    def integrated_loudness(self) -> float | None:
        """BS.1770 gated loudness of what the meter remembers (None before any speech)."""
        count = np.asarray(self.hist_count)
        energy = np.asarray(self.hist_energy)
        if count.sum() <= 0:
            return None
        relative_gate = _block_loudness(energy.sum() / count.sum()) + _RELATIVE_GATE_LU
        used = count > 0
        bin_loudness = np.full(_HIST_BINS, -np.inf)
        bin_loudness[used] = -0.691 + 10.0 * np.log10(energy[used] / count[used])
        keep = used & (bin_loudness >= relative_gate)
        return _block_loudness(energy[keep].sum() / count[keep].sum())

    def to_dict(self) -> dict[str, Any]:
        return {
            "k_zi": list(self.k_zi),
            "step_sum": self.step_sum,
            "step_count": self.step_count,
            "recent_steps": list(self.recent_steps),
            "hist_count": list(self.hist_count),
            "hist_energy": list(self.hist_energy),
            "blocks_measured": self.blocks_measured,
            "target_gain_db": self.target_gain_db,
            "gain_db": self.gain_db,
            "limiter_peak": self.limiter_peak,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoudnessState:
        state = cls(
            k_zi=_floats(data["k_zi"]),
            step_sum=float(data["step_sum"]),
            step_count=int(data["step_count"]),
            recent_steps=_floats(data["recent_steps"]),
            hist_count=_floats(data["hist_count"]),
            hist_energy=_floats(data["hist_energy"]),
            blocks_measured=int(data["blocks_measured"]),
            target_gain_db=float(data["target_gain_db"]),
            gain_db=float(data["gain_db"]),
            limiter_peak=float(data["limiter_peak"]),
        )
        if len(state.k_zi) != 4 or len(state.hist_count) != _HIST_BINS:
            raise AudioStateError("loudness state has the wrong shape")
        return state


@dataclass(slots=True)
class _Meter:
    """Mutable working copy of the measuring half of LoudnessState, for one chunk."""

    step_sum: float
    step_count: int
    recent: list[float]
    count: Float64
    energy: Float64
    blocks: int


class LoudnessNormalizer:
    """Brings speech to a loudness target with a slowly adapting gain, then limits peaks.

    Measurement is BS.1770 (K-weighting, 400 ms blocks every 100 ms, absolute gate -70
    LUFS, relative gate -10 LU), kept as a histogram of gated blocks whose weight is forgotten
    with a memory of ``memory_s`` seconds of audible audio: a running integrated loudness.
    Silence adds no gated blocks, so pauses neither pump the gain nor raise the noise.

    After every 100 ms step the target gain becomes ``target - measured`` (within
    ``[min_gain_db, max_gain_db]``); the applied gain glides to it in dB with a time
    constant of ``warmup_time_constant_s`` during the first ``warmup_s`` of measured audio
    (a new session gets to its level in about a second) and ``time_constant_s`` after.

    The boost may reach +30 dB (the cut -20 dB): a laptop microphone across the room easily
    arrives 25 dB under -23 LUFS (the tests' quiet speech is at -46 LUFS).

    The limiter follows: instant attack, ``limiter_release_ms`` release, gain
    ``ceiling / envelope``; since the envelope is never below the sample, no output sample
    exceeds ``ceiling``.
    """

    def __init__(
        self,
        target_lufs: float,
        *,
        max_gain_db: float = 30.0,
        min_gain_db: float = -20.0,
        memory_s: float = 30.0,
        warmup_s: float = 3.0,
        warmup_time_constant_s: float = 0.3,
        time_constant_s: float = 3.0,
        ceiling: float = 0.98,
        limiter_release_ms: float = 50.0,
    ) -> None:
        self.target_lufs = target_lufs
        self.max_gain_db = max_gain_db
        self.min_gain_db = min_gain_db
        blocks_per_s = PIPELINE_SAMPLE_RATE / _STEP
        self.block_decay = math.exp(-1.0 / (memory_s * blocks_per_s))
        self.warmup_blocks = round(warmup_s * blocks_per_s)
        self.fast_coefficient = math.exp(-1.0 / (warmup_time_constant_s * PIPELINE_SAMPLE_RATE))
        self.slow_coefficient = math.exp(-1.0 / (time_constant_s * PIPELINE_SAMPLE_RATE))
        self.ceiling = ceiling
        self.limiter_log_decay = 1.0 / (limiter_release_ms * PIPELINE_SAMPLE_RATE / 1000)

    def initial_state(self) -> LoudnessState:
        return LoudnessState()

    def process(self, x: Float64, state: LoudnessState) -> tuple[Float64, LoudnessState]:
        weighted, k_zf = signal.sosfilt(_K_SOS, x, zi=np.reshape(state.k_zi, (2, 2)))
        squares = weighted * weighted
        meter = _Meter(
            state.step_sum,
            state.step_count,
            list(state.recent_steps),
            np.asarray(state.hist_count, dtype=np.float64),
            np.asarray(state.hist_energy, dtype=np.float64),
            state.blocks_measured,
        )
        gains = np.empty(len(x), dtype=np.float64)
        target_gain, gain = state.target_gain_db, state.gain_db
        position = 0
        while position < len(x):
            # Up to the end of the open 100 ms step: the target gain is constant there.
            end = min(len(x), position + _STEP - meter.step_count)
            coefficient = (
                self.fast_coefficient
                if meter.blocks < self.warmup_blocks
                else self.slow_coefficient
            )
            powers = coefficient ** np.arange(1, end - position + 1, dtype=np.float64)
            gains[position:end] = target_gain + (gain - target_gain) * powers
            gain = float(gains[end - 1])
            meter.step_sum += float(squares[position:end].sum())
            meter.step_count += end - position
            position = end
            if meter.step_count == _STEP:
                self._close_step(meter)
                measured = self._measured(meter)
                if measured is not None:
                    target_gain = float(
                        np.clip(self.target_lufs - measured, self.min_gain_db, self.max_gain_db)
                    )
        y = x * np.power(10.0, gains / 20.0)
        y, peak = self._limit(y, state.limiter_peak)
        return y, LoudnessState(
            k_zi=_floats(k_zf.ravel()),
            step_sum=meter.step_sum,
            step_count=meter.step_count,
            recent_steps=tuple(meter.recent),
            hist_count=_floats(meter.count),
            hist_energy=_floats(meter.energy),
            blocks_measured=meter.blocks,
            target_gain_db=target_gain,
            gain_db=gain,
            limiter_peak=peak,
        )

    def _close_step(self, meter: _Meter) -> None:
        steps = [*meter.recent, meter.step_sum]
        meter.recent = steps[-(_BLOCK_STEPS - 1) :]
        meter.step_sum, meter.step_count = 0.0, 0
        if len(steps) < _BLOCK_STEPS:
            return
        mean_square = sum(steps[-_BLOCK_STEPS:]) / (_STEP * _BLOCK_STEPS)
        loudness = _block_loudness(mean_square)
        if loudness < _ABSOLUTE_GATE_LUFS:
            return
        meter.count *= self.block_decay
        meter.energy *= self.block_decay
        index = min(_HIST_BINS - 1, math.floor(loudness) - _HIST_LOW)
        meter.count[index] += 1.0
        meter.energy[index] += mean_square
        meter.blocks += 1

    @staticmethod
    def _measured(meter: _Meter) -> float | None:
        if meter.blocks == 0:
            return None
        return LoudnessState(
            hist_count=_floats(meter.count), hist_energy=_floats(meter.energy)
        ).integrated_loudness()

    def _limit(self, y: Float64, previous_peak: float) -> tuple[Float64, float]:
        if not len(y):
            return y, previous_peak
        # Envelope p[n] = max(|y[n]|, p[n-1] * r), computed in the log domain.
        log_envelope = _peak_hold_decay(
            np.log(np.maximum(np.abs(y), _TINY)),
            math.log(max(previous_peak, _TINY)),
            self.limiter_log_decay,
        )
        envelope = np.exp(log_envelope)
        limited: Float64 = y * np.minimum(1.0, self.ceiling / np.maximum(envelope, _TINY))
        return limited, float(envelope[-1])


# --------------------------------------------------------------------------------------------
# Chain, state and presets


@dataclass(frozen=True, slots=True)
class AudioStageState:
    """Everything one session's chain remembers between chunks; JSON-compatible via to_dict."""

    preset: str
    samples: int = 0
    highpass: HighPassState | None = None
    gate: GateState | None = None
    loudness: LoudnessState | None = None
    version: int = field(default=STATE_VERSION)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "preset": self.preset,
            "samples": self.samples,
            "highpass": self.highpass.to_dict() if self.highpass else None,
            "gate": self.gate.to_dict() if self.gate else None,
            "loudness": self.loudness.to_dict() if self.loudness else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AudioStageState:
        version = int(data.get("version", 0))
        if version != STATE_VERSION:
            raise AudioStateError(f"audio stage state version {version}, expected {STATE_VERSION}")
        try:
            return cls(
                preset=str(data["preset"]),
                samples=int(data["samples"]),
                highpass=HighPassState.from_dict(data["highpass"]) if data["highpass"] else None,
                gate=GateState.from_dict(data["gate"]) if data["gate"] else None,
                loudness=LoudnessState.from_dict(data["loudness"]) if data["loudness"] else None,
                version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AudioStateError(f"malformed audio stage state: {exc}") from exc


class _Stage(Protocol):
    def initial_state(self) -> Any: ...

    def process(self, x: Float64, state: Any) -> tuple[Float64, Any]: ...


@dataclass(frozen=True, slots=True)
class PresetSpec:
    highpass_hz: float | None = None
    gate: bool = False
    target_lufs: float | None = None


PRESETS: dict[str, PresetSpec] = {
    "none": PresetSpec(),
    "speech": PresetSpec(highpass_hz=80.0, target_lufs=-23.0),
    "noisy": PresetSpec(highpass_hz=100.0, gate=True, target_lufs=-23.0),
    "broadcast": PresetSpec(highpass_hz=60.0, target_lufs=-16.0),
}


class AudioStageChain:
    """The stages of one preset, in order: high-pass, gate, loudness + limiter.

    Stateless itself (one instance serves every session); a session's memory is the
    ``AudioStageState`` passed in and returned.
    """

    def __init__(
        self,
        preset: str,
        *,
        highpass: HighPass | None = None,
        gate: NoiseGate | None = None,
        loudness: LoudnessNormalizer | None = None,
    ) -> None:
        self.preset = preset
        self.highpass = highpass
        self.gate = gate
        self.loudness = loudness

    @classmethod
    def from_preset(cls, name: str) -> AudioStageChain:
        spec = PRESETS.get(name)
        if spec is None:
            raise UnknownPresetError(
                f"unknown audio preset {name!r}; presets: {', '.join(sorted(PRESETS))}"
            )
        return cls(
            name,
            highpass=HighPass(spec.highpass_hz) if spec.highpass_hz is not None else None,
            gate=NoiseGate() if spec.gate else None,
            loudness=(
                LoudnessNormalizer(spec.target_lufs) if spec.target_lufs is not None else None
            ),
        )

    @staticmethod
    def preset_names() -> list[str]:
        return sorted(PRESETS)

    def initial_state(self) -> AudioStageState:
        return AudioStageState(
            preset=self.preset,
            highpass=self.highpass.initial_state() if self.highpass else None,
            gate=self.gate.initial_state() if self.gate else None,
            loudness=self.loudness.initial_state() if self.loudness else None,
        )

    def process(
        self, samples: Samples, state: AudioStageState | None = None
    ) -> tuple[Samples, AudioStageState]:
        """One chunk through the chain; ``state`` None starts a session.

        A state written by another preset is accepted (a session whose configuration
        changed): stages both presets share carry on, the others start fresh.
        """
        if state is None:
            state = self.initial_state()
        if self.highpass is None and self.gate is None and self.loudness is None:
            return np.asarray(samples, dtype=np.float32), replace(
                state, preset=self.preset, samples=state.samples + len(samples)
            )
        x = np.asarray(samples, dtype=np.float64)
        highpass, x = _run(self.highpass, state.highpass, x)
        gate, x = _run(self.gate, state.gate, x)
        loudness, x = _run(self.loudness, state.loudness, x)
        new_state = replace(
            state,
            preset=self.preset,
            samples=state.samples + len(x),
            highpass=highpass,
            gate=gate,
            loudness=loudness,
        )
        if self.loudness is None:
            # No limiter in the chain: keep the float32 range promise anyway.
            x = np.clip(x, -1.0, 1.0)
        return x.astype(np.float32), new_state


def _run(stage: _Stage | None, state: Any, x: Float64) -> tuple[Any, Float64]:
    if stage is None:
        return None, x
    if not len(x):
        return (state if state is not None else stage.initial_state()), x
    y, new_state = stage.process(x, state if state is not None else stage.initial_state())
    return new_state, y
