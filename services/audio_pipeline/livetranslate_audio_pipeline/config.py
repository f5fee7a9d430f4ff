"""Settings of the audio pipeline worker, from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from livetranslate_common.faust_support import DEFAULT_FETCH_MAX_WAIT_MS, DEFAULT_FETCH_MIN_BYTES


class PipelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIPELINE_", extra="ignore")

    # The Faust application id: the consumer group and the prefix of its internal topics.
    app_id: str = "livetranslate-audio-pipeline"
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    # Results of live processing share one run id; reprocessing runs get their own.
    run_id: str = "live"
    # Kafka consumer-group session timeout: how soon a dead worker's partitions move on.
    session_timeout_s: float = 10.0
    # Most bytes one fetch takes from each audio-ingest partition. Chunks are 3-6 KB: Faust's
    # 1 MiB held a worker at about 8 MB/s of chunks with its CPU half idle (500 simulated
    # sessions of 200 ms chunks fell 7 s behind; 1.7 s with 8 MiB).
    fetch_max_bytes_per_partition: int = Field(default=8 * 1024 * 1024, ge=64 * 1024)
    # How long the broker may hold a fetch that finds nothing new: it bounds how long quiet
    # partitions can hold up busy ones (see livetranslate_common.faust_support).
    fetch_max_wait_ms: int = Field(default=DEFAULT_FETCH_MAX_WAIT_MS, ge=1, le=1500)
    # How much a fetch waits for, up to that wait: fewer, fuller fetches (see faust_support).
    fetch_min_bytes: int = Field(default=DEFAULT_FETCH_MIN_BYTES, ge=1, le=64 * 1024 * 1024)
    # Faust's local data (RocksDB or memory stores, its own bookkeeping).
    data_dir: Path = Field(default=Path("pipeline-data"), validation_alias="APP_DATADIR")
    # An operator-provided CTranslate2 Whisper folder instead of the embedded tiny.en.
    whisper_model_dir: Path | None = Field(default=None, validation_alias="WHISPER_MODEL_DIR")
    whisper_model_sha256: str | None = Field(default=None, validation_alias="WHISPER_MODEL_SHA256")
    whisper_model_name: str = Field(default="whisper", validation_alias="WHISPER_MODEL_NAME")
    # Beam widths: uploads' finals, live finals, partial results (see WhisperDecoding).
    beam_size: int = 5
    live_beam_size: int = 5
    preview_beam_size: int = 1
    # Whisper's encoder window for utterances that fit (30 = Whisper's own).
    whisper_window_s: float = Field(default=15.0, ge=10.0, le=30.0)
    # Re-decode doubtful results at higher temperatures (Whisper's fallback): slower, and no
    # better on single utterances in our measurements.
    temperature_fallback: bool = False
    asr_threads: int = 0
    # A pause this long ends an utterance: shorter answers sooner but cuts more sentences.
    vad_min_silence_ms: int = 400
    # Recognise the open utterance once it has been quiet this long, before the pause is
    # long enough to end it: if it does end there, that recognition is its final result.
    # Shorter answers sooner; each pause that turns out not to end the utterance costs one
    # recognition that is thrown away.
    speculate_after_ms: int = 64
    # Progress is saved after every event that published results, else once per this much
    # audio; 0 saves after every event. A save is two table writes, and Faust's path for one
    # costs about 0.2 ms of CPU (measured draining 500 sessions' chunks: 125 us a chunk
    # saving every second, 98-108 every two, 80-87 writing nothing). A worker taking over
    # replays at most this much more audio (read back from the log; VAD only).
    checkpoint_every_ms: int = Field(default=2000, ge=0)
    # A session no chunk has reached for this long leaves the worker's memory (0: never): its
    # sender is gone (a live stream sends silence too). Its state stays in the tables, so a
    # late chunk or end resumes it from there. See SessionTranscriber.evict_idle.
    idle_session_evict_s: float = Field(default=600.0, ge=0)
    # Finals recognised with this many previous finals as Whisper's prompt (0: none). With
    # 2, tiny.en's streaming WER on the bench conversation is 9.9% against 12.1% without
    # (whole file 9.3%); 10.0% vs 10.7% and 1.4% vs 4.3% on two shorter ones. Once the
    # decoder no longer went on into the trailing pause (see whisper_local), the prompt
    # costs no measurable time: 0.21 s per final either way.
    context_finals: int = Field(default=2, ge=0, le=5)
    # New speech between two partial results of the open utterance.
    partial_interval_ms: int = 1000
    vad_threshold: float = 0.5
    # Below this, a frame counts towards the pause (between the two: still speech).
    vad_neg_threshold: float = 0.35
    # Audio kept before the speech the VAD found: Whisper needs the onset of the first word.
    vad_speech_pad_ms: int = 160
    # Audio kept after it, for the release of the last word (the VAD's last voiced frame is
    # already past the true end). The utterance's speculative recognition starts only once
    # this much has arrived after that frame. Bench conversation (48 utterances, one run
    # each): 160 ms, as the onset's, kept recognition on the path to the final (end of speech
    # to final on the socket p50 645 ms, p90 725; WER 9.9%); 64 ms p50 566, WER 9.7%.
    vad_end_pad_ms: int = Field(default=64, ge=0, le=1000)
    max_utterance_s: float = 20.0

    # Remote speech recognition: an OpenAI-compatible /v1/audio/transcriptions service
    # (asr_server on a GPU machine, or any other). Set, it replaces the local Whisper.
    audio_service_url: str | None = Field(default=None, validation_alias="AUDIO_SERVICE_URL")
    audio_service_model: str = Field(default="whisper-1", validation_alias="AUDIO_SERVICE_MODEL")
    audio_service_api_key: SecretStr | None = Field(
        default=None, validation_alias="AUDIO_SERVICE_API_KEY"
    )
    audio_service_timeout_s: float = 60.0
    # Translation: a LibreTranslate-compatible service for text, Whisper base for speech
    # into English. Neither configured: only same-language "translations" exist.
    translation_service_url: str | None = Field(
        default=None, validation_alias="TRANSLATION_SERVICE_URL"
    )
    translation_service_api_key: SecretStr | None = Field(
        default=None, validation_alias="TRANSLATION_SERVICE_API_KEY"
    )
    translation_timeout_s: float = 10.0
    speech_translation: bool = False
    # Where the multilingual Whisper base is assembled from its two PyPI halves.
    whisper_cache_dir: Path | None = Field(default=None, validation_alias="WHISPER_CACHE_DIR")
