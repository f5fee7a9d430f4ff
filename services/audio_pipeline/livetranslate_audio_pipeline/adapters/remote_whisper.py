"""A SpeechRecognizer that calls a remote OpenAI-compatible Whisper service.

``POST {base}/v1/audio/transcriptions``, multipart: ``file`` (a 16 kHz mono PCM16 WAV),
``model``, ``response_format=verbose_json``, ``timestamp_granularities[]=word`` and
``language`` when known. The answer's ``text``, ``language`` (OpenAI sends the English name,
"english"; other servers the code: both are understood), ``words`` (start/end in seconds)
and ``segments`` (``avg_logprob``, for a confidence) make the Recognition.

Servers: OpenAI's API, self-hosted faster-whisper servers, and this package's own
``livetranslate_audio_pipeline.asr_server`` for GPU machines. Failures become
RecognitionError: timeouts, connection failures, 429 and 5xx are retryable; other 4xx
(bad audio, unknown model, wrong key) are not. The API key goes only in the Authorization
header and never into a log or an exception message.
"""

from __future__ import annotations

import io
import logging
import math
import wave
from typing import Any

import httpx

from livetranslate_audio_pipeline.adapters.redaction import redact_url
from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE, Samples
from livetranslate_audio_pipeline.core.errors import RecognitionError
from livetranslate_audio_pipeline.core.recognition import (
    Recognition,
    RecognitionMode,
    RecognizedWord,
)
from livetranslate_audio_pipeline.core.translation import primary_language
from livetranslate_common.pcm import float_to_pcm16

log = logging.getLogger(__name__)

TRANSCRIPTIONS_PATH = "/v1/audio/transcriptions"
_RETRYABLE_STATUS = {408, 425, 429}
_MAX_ERROR_CHARS = 200

# Whisper's languages, code -> the English name OpenAI's verbose_json reports.
WHISPER_LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian",
    "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian",
    "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala",
    "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans",
    "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi",
    "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian",
    "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese",
    "yue": "cantonese",
}  # fmt: skip
_CODES_BY_NAME = {name: code for code, name in WHISPER_LANGUAGES.items()}


def language_code(reported: str | None) -> str | None:
    """A server's language field ("english", "en", "en-US") as a code, or None."""
    if not reported:
        return None
    lowered = reported.strip().lower()
    if lowered in _CODES_BY_NAME:
        return _CODES_BY_NAME[lowered]
    return primary_language(lowered)


def samples_to_wav(samples: Samples) -> bytes:
    """16 kHz mono PCM16 WAV: what every Whisper server reads without transcoding."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(PIPELINE_SAMPLE_RATE)
        writer.writeframes(float_to_pcm16(samples))
    return buffer.getvalue()


class RemoteWhisperRecognizer:
    """Blocking client of ``/v1/audio/transcriptions``; safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 60.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = base_url.rstrip("/")
        # Accept a base given with or without the /v1 suffix.
        self._url = base + (
            TRANSCRIPTIONS_PATH[3:] if base.endswith("/v1") else TRANSCRIPTIONS_PATH
        )
        self._display_url = redact_url(self._url)
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._api_key = api_key or None
        self._client = httpx.Client(timeout=timeout, headers=headers, transport=transport)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"RemoteWhisperRecognizer({self._display_url!r}, {self._model!r}, api_key={key})"

    @property
    def model_name(self) -> str:
        return self._model

    def close(self) -> None:
        self._client.close()

    def recognize(
        self,
        samples: Samples,
        *,
        language: str | None = None,
        mode: RecognitionMode = RecognitionMode.BATCH,
        context: str | None = None,
    ) -> Recognition:
        # ``mode`` changes nothing here: the service decodes as it is configured to.
        data: dict[str, Any] = {
            "model": self._model,
            "response_format": "verbose_json",
            "timestamp_granularities[]": ["word", "segment"],
        }
        if context:
            data["prompt"] = context
        code = primary_language(language)
        if code is not None:
            data["language"] = code
        files = {"file": ("utterance.wav", samples_to_wav(samples), "audio/wav")}
        try:
            response = self._client.post(self._url, data=data, files=files)
        except httpx.TimeoutException as exc:
            raise RecognitionError(f"remote whisper {self._display_url} timed out") from exc
        except httpx.HTTPError as exc:
            raise RecognitionError(
                f"remote whisper {self._display_url} failed: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 400:
            raise self._status_error(response)
        try:
            body = response.json()
        except ValueError as exc:
            raise self._protocol_error("the answer is not JSON") from exc
        if not isinstance(body, dict):
            raise self._protocol_error("the answer is not a JSON object")
        return self._parse(body)

    def _parse(self, body: dict[str, Any]) -> Recognition:
        text = body.get("text")
        if not isinstance(text, str):
            raise self._protocol_error("the answer has no text")
        words: list[RecognizedWord] = []
        for item in body.get("words") or []:
            try:
                start_ms = round(float(item["start"]) * 1000)
                end_ms = round(float(item["end"]) * 1000)
                word = str(item["word"]).strip()
                probability = item.get("probability")
            except (KeyError, TypeError, ValueError) as exc:
                raise self._protocol_error("a word lacks word/start/end") from exc
            words.append(
                RecognizedWord(
                    word=word,
                    start_ms=start_ms,
                    end_ms=max(start_ms, end_ms),
                    probability=float(probability) if probability is not None else None,
                )
            )
        log_probs = [
            float(segment["avg_logprob"])
            for segment in body.get("segments") or []
            if isinstance(segment, dict) and segment.get("avg_logprob") is not None
        ]
        confidence = math.exp(sum(log_probs) / len(log_probs)) if log_probs else None
        return Recognition(
            text=text.strip(),
            language=language_code(body.get("language")),
            words=words,
            confidence=confidence,
        )

    def _status_error(self, response: httpx.Response) -> RecognitionError:
        detail = ""
        try:
            body = response.json()
            error = body.get("error") if isinstance(body, dict) else None
            if isinstance(error, dict):
                error = error.get("message")
            detail = str(error)[:_MAX_ERROR_CHARS] if error is not None else ""
        except ValueError:
            pass
        if self._api_key:
            detail = detail.replace(self._api_key, "***")
        status = response.status_code
        error = RecognitionError(
            f"remote whisper {self._display_url} answered HTTP {status}"
            + (f": {detail}" if detail else "")
        )
        error.retryable = status >= 500 or status in _RETRYABLE_STATUS
        log.warning("%s", error)
        return error

    def _protocol_error(self, message: str) -> RecognitionError:
        error = RecognitionError(f"remote whisper {self._display_url}: {message}")
        error.retryable = False
        return error
