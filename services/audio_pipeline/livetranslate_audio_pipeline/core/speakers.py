"""Speaker attribution without torch: spectral voice statistics and online clustering.

Per utterance (1-20 s of one person) ``utterance_embedding`` computes a 62-number voice
description over the utterance's voiced frames (energy within 30 dB of its loudest frame):

- MFCC 1-19 means and standard deviations (vocal tract shape and its movement; MFCC 0,
  the level, is left out so loudness does not matter),
- standard deviations of delta-MFCC 1-19 (speaking dynamics),
- spectral centroid, 85 % roll-off (log2 Hz) and flatness (log10): brightness, breathiness,
- f0 median (semitones re 100 Hz) and inter-quartile range (semitones) from ``librosa.yin``
  between 60 and 400 Hz (``pyin`` is 20x slower).

``SpeakerRegistry.assign`` clusters a session's utterances online. Embeddings are standardised
before comparison: centred on a population mean and divided by the within-speaker standard
deviation (so a feature counts by how well it tells voices apart, not by its units). Both
start from a prior fitted once on a population of voices (``fit_prior``; the numbers below)
and the within-speaker spread is then refined by the session itself: the state keeps the
pooled within-speaker sum of squares, blended with the prior as ``PRIOR_WEIGHT``
pseudo-utterances. Centring stays on the population mean: centring on the session's own mean
would, in a one-speaker session, put every utterance at the centre and make cosine distances
random.

Nearest centroid by cosine distance in that space; a new speaker when the distance exceeds
``threshold * max(1, reference_s / duration)``, because short utterances have noisier
statistics (measured: a 1.5 s utterance lies 2-3x farther from its own speaker's centroid
than a 4 s one). Centroids are running means of raw embeddings, labels ``SPEAKER_00``,
``SPEAKER_01``, ... in order of appearance and never renumbered, at most ``max_speakers``.
Utterances under ``min_new_speaker_s`` are attached to the nearest speaker and do not move
its centroid.

Why ``threshold = 0.35``: measured over 30 random 16-utterance sessions per voice pair (18
sentences of 0.7-5 s each), piper and espeak's en-gb-x-rp+f3 come out as exactly two labels
with >= 94 % of utterances right for every threshold from 0.2 to 0.35 (at 0.4 they sometimes
merge). The noisier espeak male voice en-us splits itself in two at 0.2-0.3 (a single-voice
session stayed one label in only 50-60 % of sessions) and mostly not at 0.35 (88 %). So 0.35
is the highest value that still never merged the two test voices.

State (``SpeakerRegistryState.to_dict()``): per speaker a label, a 62-float centroid, a count
and seconds of speech, plus the 62-float pooled within-speaker sum of squares: about 1.5 kB of
JSON per speaker, 12 kB at the cap of 8.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE, Samples
from livetranslate_audio_pipeline.core.errors import PipelineError

EMBEDDING_VERSION = 1
EMBEDDING_SIZE = 62

Float64 = npt.NDArray[np.float64]

_N_FFT = 512  # 32 ms
_WINDOW = 400  # 25 ms
_HOP = 160  # 10 ms
_N_MFCC = 20
_VOICED_RANGE_DB = 30.0
_F0_MIN, _F0_MAX = 60.0, 400.0


class SpeakerEmbeddingError(PipelineError):
    stage = "speakers"
    error_code = "speaker_embedding_failed"


class SpeakerStateError(PipelineError):
    stage = "speakers"
    error_code = "invalid_speaker_state"


@dataclass(frozen=True, slots=True)
class SpeakerEmbedding:
    vector: tuple[float, ...]
    duration_s: float
    version: int = EMBEDDING_VERSION

    def array(self) -> Float64:
        return np.asarray(self.vector, dtype=np.float64)


def _embedding_vector(samples: Samples) -> Float64:
    import librosa

    x = np.asarray(samples, dtype=np.float32)
    power = (
        np.abs(librosa.stft(x, n_fft=_N_FFT, hop_length=_HOP, win_length=_WINDOW, center=True)) ** 2
    )
    mel = librosa.feature.melspectrogram(
        S=power, sr=PIPELINE_SAMPLE_RATE, n_mels=40, fmin=60.0, fmax=7600.0
    )
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, ref=1.0, top_db=None), n_mfcc=_N_MFCC)
    mfcc = mfcc[1:]  # c0 is the level
    delta = librosa.feature.delta(mfcc, width=5)
    frame_db = 10.0 * np.log10(power.sum(axis=0) + 1e-12)
    voiced = frame_db > frame_db.max() - _VOICED_RANGE_DB
    if voiced.sum() < 10:
        voiced = np.ones_like(voiced)
    magnitude = np.sqrt(power[:, voiced])
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=PIPELINE_SAMPLE_RATE)[0]
    rolloff = librosa.feature.spectral_rolloff(
        S=magnitude, sr=PIPELINE_SAMPLE_RATE, roll_percent=0.85
    )[0]
    flatness = librosa.feature.spectral_flatness(S=magnitude)[0]
    f0 = librosa.yin(
        x,
        fmin=_F0_MIN,
        fmax=_F0_MAX,
        sr=PIPELINE_SAMPLE_RATE,
        frame_length=1024,
        hop_length=_HOP,
        center=True,
    )
    frames = min(len(f0), len(voiced))
    pitched = f0[:frames][voiced[:frames]]
    # yin always answers; its answers pinned to the search range are unvoiced frames.
    pitched = pitched[(pitched > _F0_MIN * 1.03) & (pitched < _F0_MAX * 0.97)]
    if len(pitched) < 5:
        pitched = np.array([150.0])
    semitones = 12.0 * np.log2(pitched / 100.0)
    q25, q50, q75 = np.percentile(semitones, [25, 50, 75])
    return np.concatenate(
        [
            mfcc[:, voiced].mean(axis=1),
            mfcc[:, voiced].std(axis=1),
            delta[:, voiced].std(axis=1),
            [
                math.log2(max(float(centroid.mean()), 1.0)),
                math.log2(max(float(rolloff.mean()), 1.0)),
                math.log10(float(flatness.mean()) + 1e-10),
                q50,
                q75 - q25,
            ],
        ]
    ).astype(np.float64)


def utterance_embedding(samples: Samples) -> SpeakerEmbedding:
    """The voice statistics of one utterance (float32 mono 16 kHz, ideally 1-20 s)."""
    if len(samples) < _N_FFT * 2:
        raise SpeakerEmbeddingError(f"utterance of {len(samples)} samples is too short")
    if not np.any(samples):
        raise SpeakerEmbeddingError("utterance is silent")
    vector = _embedding_vector(samples)
    if not np.all(np.isfinite(vector)):
        raise SpeakerEmbeddingError("voice statistics are not finite")
    return SpeakerEmbedding(
        vector=tuple(float(v) for v in vector),
        duration_s=len(samples) / PIPELINE_SAMPLE_RATE,
    )


# --------------------------------------------------------------------------------------------
# Prior


@dataclass(frozen=True, slots=True)
class EmbeddingPrior:
    mean: tuple[float, ...]
    within_std: tuple[float, ...]


def fit_prior(embeddings_by_voice: Mapping[str, list[SpeakerEmbedding]]) -> EmbeddingPrior:
    """Population mean (each voice weighted equally) and pooled within-voice std."""
    per_voice = [np.array([e.vector for e in embs]) for embs in embeddings_by_voice.values()]
    mean = np.mean([v.mean(axis=0) for v in per_voice], axis=0)
    within = np.sqrt(np.mean([v.var(axis=0) for v in per_voice], axis=0))
    return EmbeddingPrior(tuple(float(v) for v in mean), tuple(float(v) for v in within))


# fit_prior over 18 sentences (0.7-5 s) from each of 10 espeak-ng voices: en-gb-scotland,
# en-us+m3, en-gb+f1, en-029, en-us+f2, en-gb-x-rp+m5, en-us+f4, en-gb-x-gbclan,
# en-us-nyc+m7, en-gb-x-rp+f5. The voices the tests use (piper, en-gb-x-rp+f3, en-us) are
# deliberately not among them.
DEFAULT_PRIOR = EmbeddingPrior(
    mean=(
        50.3435,
        11.7675,
        37.9060,
        -5.4422,
        -0.6175,
        0.2435,
        -11.7392,
        3.0386,
        -4.9268,
        2.6387,
        -5.4781,
        1.8012,
        1.1583,
        -1.5174,
        -0.6678,
        3.2701,
        -2.4679,
        0.4958,
        0.1835,
        41.1768,
        21.7392,
        36.7201,
        22.8848,
        19.6121,
        20.5289,
        17.6274,
        12.8727,
        12.5354,
        10.1357,
        8.7871,
        8.6964,
        7.2198,
        7.8432,
        6.6265,
        6.6240,
        6.0213,
        4.9171,
        4.6882,
        10.8063,
        6.0385,
        8.9917,
        5.9420,
        5.5061,
        5.5431,
        5.2902,
        3.8242,
        3.5224,
        3.0800,
        2.6702,
        2.5453,
        2.1648,
        2.2418,
        1.9180,
        1.8786,
        1.7367,
        1.4642,
        1.3903,
        10.8533,
        11.7548,
        -1.4382,
        3.6069,
        2.8882,
    ),
    within_std=(
        10.8317,
        4.7784,
        8.2444,
        4.9552,
        5.1207,
        4.8601,
        4.0093,
        2.7158,
        2.1870,
        1.8815,
        1.9275,
        1.7623,
        1.4864,
        1.5773,
        1.3469,
        1.1923,
        1.2753,
        0.9741,
        0.7887,
        5.8023,
        2.4695,
        5.6741,
        4.5426,
        2.5439,
        2.5379,
        2.6220,
        1.6666,
        1.4388,
        1.7157,
        1.0870,
        1.2387,
        0.8049,
        1.0128,
        0.9023,
        0.7047,
        0.6542,
        0.5223,
        0.5952,
        1.1991,
        0.7895,
        1.1261,
        1.1581,
        0.8810,
        0.9077,
        1.0142,
        0.5699,
        0.5650,
        0.5607,
        0.4116,
        0.4533,
        0.2936,
        0.3524,
        0.2621,
        0.2195,
        0.2037,
        0.1487,
        0.1484,
        0.1955,
        0.1412,
        0.1200,
        0.4659,
        1.7387,
    ),
)


# --------------------------------------------------------------------------------------------
# Registry state


_LABEL = re.compile(r"^SPEAKER_\d{2,}$")


def speaker_label(index: int) -> str:
    return f"SPEAKER_{index:02d}"


@dataclass(frozen=True, slots=True)
class SpeakerModel:
    label: str
    centroid: tuple[float, ...]
    count: int
    speech_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "centroid": list(self.centroid),
            "count": self.count,
            "speech_s": self.speech_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpeakerModel:
        return cls(
            label=str(data["label"]),
            centroid=tuple(float(v) for v in data["centroid"]),
            count=int(data["count"]),
            speech_s=float(data["speech_s"]),
        )


@dataclass(frozen=True, slots=True)
class SpeakerRegistryState:
    speakers: tuple[SpeakerModel, ...] = ()
    # Pooled within-speaker sum of squared deviations (Welford) and its degrees of freedom.
    within_m2: tuple[float, ...] = (0.0,) * EMBEDDING_SIZE
    within_dof: int = 0
    utterances: int = 0
    version: int = EMBEDDING_VERSION

    @property
    def labels(self) -> list[str]:
        return [speaker.label for speaker in self.speakers]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "speakers": [speaker.to_dict() for speaker in self.speakers],
            "within_m2": list(self.within_m2),
            "within_dof": self.within_dof,
            "utterances": self.utterances,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SpeakerRegistryState:
        version = int(data.get("version", 0))
        if version != EMBEDDING_VERSION:
            # Centroids of another feature version cannot be compared with new embeddings.
            raise SpeakerStateError(
                f"speaker state version {version}, expected {EMBEDDING_VERSION}"
            )
        try:
            state = cls(
                speakers=tuple(SpeakerModel.from_dict(s) for s in data["speakers"]),
                within_m2=tuple(float(v) for v in data["within_m2"]),
                within_dof=int(data["within_dof"]),
                utterances=int(data["utterances"]),
                version=version,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SpeakerStateError(f"malformed speaker state: {exc}") from exc
        if len(state.within_m2) != EMBEDDING_SIZE or any(
            len(s.centroid) != EMBEDDING_SIZE for s in state.speakers
        ):
            raise SpeakerStateError("speaker state has the wrong embedding size")
        return state


def _cosine_distance(a: Float64, b: Float64) -> float:
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    if denominator == 0.0:
        return 1.0
    return 1.0 - float(a @ b) / denominator


class SpeakerRegistry:
    """Online clustering of one session's utterances; stateless itself (state passed in)."""

    # The prior's within-speaker spread counts as this many utterances.
    PRIOR_WEIGHT = 20.0

    def __init__(
        self,
        *,
        threshold: float = 0.35,
        reference_s: float = 3.0,
        min_new_speaker_s: float = 1.0,
        max_speakers: int = 8,
        prior: EmbeddingPrior | None = None,
    ) -> None:
        self.threshold = threshold
        self.reference_s = reference_s
        self.min_new_speaker_s = min_new_speaker_s
        self.max_speakers = max_speakers
        prior = prior or DEFAULT_PRIOR
        self._mean = np.asarray(prior.mean, dtype=np.float64)
        self._prior_var = np.square(np.asarray(prior.within_std, dtype=np.float64))

    def initial_state(self) -> SpeakerRegistryState:
        return SpeakerRegistryState()

    def threshold_for(self, duration_s: float) -> float:
        return self.threshold * max(1.0, self.reference_s / max(duration_s, 1e-3))

    def standardise(self, vector: Float64, state: SpeakerRegistryState) -> Float64:
        m2 = np.asarray(state.within_m2, dtype=np.float64)
        variance = (self.PRIOR_WEIGHT * self._prior_var + m2) / (
            self.PRIOR_WEIGHT + state.within_dof
        )
        result: Float64 = (vector - self._mean) / np.sqrt(np.maximum(variance, 1e-12))
        return result

    def distances(
        self, embedding: SpeakerEmbedding, state: SpeakerRegistryState
    ) -> dict[str, float]:
        """Cosine distance from the utterance to every speaker's centroid."""
        z = self.standardise(embedding.array(), state)
        return {
            speaker.label: _cosine_distance(
                z, self.standardise(np.asarray(speaker.centroid), state)
            )
            for speaker in state.speakers
        }

    def assign(
        self, embedding: SpeakerEmbedding, state: SpeakerRegistryState | None = None
    ) -> tuple[str, SpeakerRegistryState]:
        if state is None:
            state = self.initial_state()
        if embedding.version != state.version:
            raise SpeakerStateError(
                f"embedding version {embedding.version}, state version {state.version}"
            )
        distances = self.distances(embedding, state)
        nearest = min(distances, key=lambda label: distances[label]) if distances else None
        short = embedding.duration_s < self.min_new_speaker_s
        opens_new = nearest is None or (
            distances[nearest] > self.threshold_for(embedding.duration_s)
            and not short
            and len(state.speakers) < self.max_speakers
        )
        if opens_new:
            label = speaker_label(len(state.speakers))
            model = SpeakerModel(label, embedding.vector, 1, embedding.duration_s)
            return label, SpeakerRegistryState(
                speakers=(*state.speakers, model),
                within_m2=state.within_m2,
                within_dof=state.within_dof,
                utterances=state.utterances + 1,
                version=state.version,
            )
        assert nearest is not None
        if short:
            # Too little speech for reliable statistics: labelled, but the model stays.
            return nearest, SpeakerRegistryState(
                speakers=state.speakers,
                within_m2=state.within_m2,
                within_dof=state.within_dof,
                utterances=state.utterances + 1,
                version=state.version,
            )
        return nearest, self._update(state, nearest, embedding)

    @staticmethod
    def _update(
        state: SpeakerRegistryState, label: str, embedding: SpeakerEmbedding
    ) -> SpeakerRegistryState:
        x = embedding.array()
        speakers = list(state.speakers)
        index = state.labels.index(label)
        model = speakers[index]
        old = np.asarray(model.centroid, dtype=np.float64)
        count = model.count + 1
        new = old + (x - old) / count
        m2 = np.asarray(state.within_m2, dtype=np.float64) + (x - old) * (x - new)
        speakers[index] = SpeakerModel(
            label, tuple(float(v) for v in new), count, model.speech_s + embedding.duration_s
        )
        return SpeakerRegistryState(
            speakers=tuple(speakers),
            within_m2=tuple(float(v) for v in m2),
            within_dof=state.within_dof + 1,
            utterances=state.utterances + 1,
            version=state.version,
        )


def speaker_names(
    label_map: Mapping[str, str] | Iterable[str],
    overrides: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """Human names for speaker labels: ``{"SPEAKER_00": "Alice"}``.

    ``label_map`` is either the names from configuration (label -> name) or just the labels
    a session has; ``overrides`` (from the API) win, and an empty or None override removes
    a name. Labels without a name are left out, so a consumer falls back to the label.
    Keys that are not speaker labels are rejected.
    """
    names: dict[str, str] = (
        {label: name for label, name in label_map.items()} if isinstance(label_map, Mapping) else {}
    )
    for label, name in (overrides or {}).items():
        names[label] = name or ""
    result: dict[str, str] = {}
    for label, name in names.items():
        if not _LABEL.match(label):
            raise ValueError(f"{label!r} is not a speaker label like SPEAKER_00")
        cleaned = " ".join(str(name).split())
        if cleaned:
            result[label] = cleaned
    return result
