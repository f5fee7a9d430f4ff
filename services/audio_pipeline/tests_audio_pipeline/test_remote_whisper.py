"""The remote Whisper recognizer against the real asr_server running the embedded tiny.en."""

from __future__ import annotations

import io
import socket
import threading
import time
import wave
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from scipy.signal import resample_poly

from livetranslate_audio_pipeline.adapters.remote_whisper import (
    RemoteWhisperRecognizer,
    language_code,
    samples_to_wav,
)
from livetranslate_audio_pipeline.adapters.whisper_local import LocalWhisperRecognizer
from livetranslate_audio_pipeline.asr_server import create_app, serve_in_background
from livetranslate_audio_pipeline.config import PipelineSettings
from livetranslate_audio_pipeline.core.audio import Samples
from livetranslate_audio_pipeline.core.errors import RecognitionError
from livetranslate_audio_pipeline.core.recognition import Recognition, RecognitionMode
from livetranslate_audio_pipeline.recognizers import build_recognizer
from livetranslate_common.speech_samples import (
    SAMPLE_RATE,
    FloatSamples,
    SpokenLine,
    word_error_rate,
)

API_KEY = "asr-key-0c1d2e3f"
MAX_UPLOAD = 2 * 1024 * 1024  # about 65 s of 16 kHz PCM16
MAX_AUDIO_S = 40.0
URL_PATH = "/v1/audio/transcriptions"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    app = create_app(
        LocalWhisperRecognizer.embedded_tiny_en(),
        max_upload_bytes=MAX_UPLOAD,
        max_audio_s=MAX_AUDIO_S,
        api_key=API_KEY,
    )
    with serve_in_background(app) as url:
        yield url


@pytest.fixture(scope="module")
def sentence(short_speech: tuple[FloatSamples, list[SpokenLine]]) -> tuple[FloatSamples, str]:
    samples, truth = short_speech
    first = truth[0]
    span = samples[
        (first.start_ms - 200) * SAMPLE_RATE // 1000 : (first.end_ms + 200) * SAMPLE_RATE // 1000
    ]
    return span, first.text


@pytest.fixture
def remote(server_url: str) -> Iterator[RemoteWhisperRecognizer]:
    recognizer = RemoteWhisperRecognizer(server_url, "whisper-1", api_key=API_KEY, timeout=60)
    yield recognizer
    recognizer.close()


def test_recognizes_a_piper_sentence_with_words_and_timings(
    remote: RemoteWhisperRecognizer, sentence: tuple[FloatSamples, str]
) -> None:
    span, text = sentence
    started = time.perf_counter()
    result = remote.recognize(span, language="en")
    elapsed = time.perf_counter() - started
    print(f"remote tiny.en: {len(span) / SAMPLE_RATE:.2f} s audio in {elapsed:.2f} s: {result}")
    assert word_error_rate(text, result.text) <= 0.1
    assert result.language == "en"
    assert len(result.words) >= 8
    assert all(0 <= w.start_ms <= w.end_ms for w in result.words)
    starts = [w.start_ms for w in result.words]
    assert starts == sorted(starts)
    assert result.words[-1].end_ms <= len(span) * 1000 // SAMPLE_RATE + 100
    assert all(w.probability is not None and 0 < w.probability <= 1 for w in result.words)
    assert result.confidence is not None
    assert 0 < result.confidence <= 1
    assert remote.model_name == "whisper-1"


def test_a_context_travels_as_the_prompt_and_is_decoded_with(
    remote: RemoteWhisperRecognizer, sentence: tuple[FloatSamples, str]
) -> None:
    span, text = sentence
    result = remote.recognize(span, language="en", context="Good morning everyone.")
    assert word_error_rate(text, result.text) <= 0.1, result.text


def test_other_rates_and_channels_are_decoded(
    server_url: str, sentence: tuple[FloatSamples, str]
) -> None:
    span, text = sentence
    stereo_48k = np.repeat(resample_poly(span, 3, 1)[:, None], 2, axis=1).astype(np.float32)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(48_000)
        writer.writeframes((np.clip(stereo_48k, -1, 0.999) * 32768).astype("<i2").tobytes())
    response = _post(server_url, buffer.getvalue(), {"model": "x", "response_format": "text"})
    assert response.status_code == 200, response.text
    assert word_error_rate(text, response.text) <= 0.1


def _post(
    url: str,
    audio: bytes | None,
    data: dict[str, str],
    *,
    key: str | None = API_KEY,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    all_headers = {"Authorization": f"Bearer {key}"} if key else {}
    all_headers.update(headers or {})
    files = {"file": ("a.wav", audio, "audio/wav")} if audio is not None else None
    return httpx.post(url + URL_PATH, data=data, files=files, headers=all_headers, timeout=60)


def test_json_and_verbose_json_shapes(server_url: str, sentence: tuple[FloatSamples, str]) -> None:
    span, _ = sentence
    wav = samples_to_wav(span)
    plain = _post(server_url, wav, {"model": "whisper-1"})
    assert plain.status_code == 200
    assert set(plain.json()) == {"text"}
    verbose = _post(server_url, wav, {"model": "whisper-1", "response_format": "verbose_json"})
    body = verbose.json()
    # OpenAI's shape: the language by name, segments by default, words only when asked.
    assert body["language"] == "english"
    assert body["task"] == "transcribe"
    assert abs(body["duration"] - len(span) / SAMPLE_RATE) < 0.01
    assert len(body["segments"]) == 1
    assert "words" not in body


@pytest.mark.parametrize(
    ("data", "audio", "code"),
    [
        ({"model": "whisper-1", "language": "xx"}, True, "unsupported_language"),
        ({"model": "whisper-1", "response_format": "srt"}, True, "unsupported_response_format"),
        ({"model": "whisper-1", "timestamp_granularities[]": "char"}, True, "invalid_value"),
        ({"model": ""}, True, "invalid_request"),
        ({"model": "whisper-1"}, False, "invalid_request"),
    ],
)
def test_invalid_requests_are_400(
    server_url: str, data: dict[str, str], audio: bool, code: str
) -> None:
    response = _post(
        server_url, samples_to_wav(np.zeros(1600, np.float32)) if audio else None, data
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == code


def test_undecodable_and_empty_audio_are_400(server_url: str) -> None:
    garbage = _post(server_url, b"RIFF\x00\x00\x00\x00WAVEnot really" * 10, {"model": "m"})
    assert garbage.status_code == 400
    assert garbage.json()["error"]["code"] == "invalid_audio"
    empty = _post(server_url, b"", {"model": "m"})
    assert empty.status_code == 400


def test_upload_and_duration_limits(server_url: str) -> None:
    too_big = samples_to_wav(np.zeros(MAX_UPLOAD // 2 + 16_000, np.float32))
    response = _post(server_url, too_big, {"model": "m"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"

    # Without Content-Length (chunked), the limit is enforced while the body streams in.
    def chunks() -> Iterator[bytes]:
        boundary = b"--b\r\n"
        yield boundary + b'Content-Disposition: form-data; name="model"\r\n\r\nm\r\n'
        yield boundary + b'Content-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
        for _ in range(MAX_UPLOAD // 65_536 + 2):
            yield b"\x00" * 65_536

    streamed = httpx.post(
        server_url + URL_PATH,
        content=chunks(),
        headers={
            "Authorization": f"Bearer {API_KEY}",
            "Content-Type": "multipart/form-data; boundary=b",
        },
        timeout=30,
    )
    assert streamed.status_code == 413

    # Fits the byte limit (8 kHz) but is longer than the audio limit once decoded.
    long_audio = io.BytesIO()
    with wave.open(long_audio, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(b"\x00\x00" * 8000 * int(MAX_AUDIO_S + 5))
    response = _post(server_url, long_audio.getvalue(), {"model": "m"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "audio_too_long"


def test_wrong_key_is_a_non_retryable_recognition_error(
    server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    assert (
        _post(
            server_url, samples_to_wav(np.zeros(1600, np.float32)), {"model": "m"}, key=None
        ).status_code
        == 401
    )
    client = RemoteWhisperRecognizer(server_url, "whisper-1", api_key="not-the-key")
    with pytest.raises(RecognitionError, match="HTTP 401: invalid or missing API key") as caught:
        client.recognize(np.zeros(1600, np.float32))
    assert caught.value.retryable is False
    assert "not-the-key" not in str(caught.value) + caplog.text + repr(client)


class _Failing:
    model_name = "failing"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s

    def recognize(
        self,
        samples: Samples,
        *,
        language: str | None = None,
        mode: RecognitionMode = RecognitionMode.BATCH,
        context: str | None = None,
    ) -> Recognition:
        if self.delay_s:
            time.sleep(self.delay_s)
            return Recognition(text="late", language="en")
        raise RecognitionError("GPU out of memory")


def test_server_failures_and_timeouts_are_retryable() -> None:
    audio = np.zeros(1600, np.float32)
    with serve_in_background(create_app(_Failing())) as url:
        with pytest.raises(RecognitionError, match="HTTP 503: recognition failed") as caught:
            RemoteWhisperRecognizer(url, "m").recognize(audio)
        assert caught.value.retryable is True
    with serve_in_background(create_app(_Failing(delay_s=1.0))) as url:
        with pytest.raises(RecognitionError, match="timed out") as caught:
            RemoteWhisperRecognizer(url, "m", timeout=0.3).recognize(audio)
        assert caught.value.retryable is True
        # A base URL that already ends in /v1 works as well.
        assert RemoteWhisperRecognizer(url + "/v1/", "m").recognize(audio).text == "late"


def test_unreachable_server_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(RecognitionError, match="ConnectError") as caught:
        RemoteWhisperRecognizer(f"http://127.0.0.1:{port}", "m", timeout=2).recognize(
            np.zeros(1600, np.float32)
        )
    assert caught.value.retryable is True


def test_non_json_answer_is_a_protocol_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>")

    client = RemoteWhisperRecognizer(
        "http://asr.invalid", "m", transport=httpx.MockTransport(handler)
    )
    with pytest.raises(RecognitionError, match="not JSON") as caught:
        client.recognize(np.zeros(1600, np.float32))
    assert caught.value.retryable is False


def test_language_names_and_codes() -> None:
    assert language_code("english") == "en"
    assert language_code("German") == "de"
    assert language_code("es") == "es"
    assert language_code("pt-BR") == "pt"
    assert language_code("") is None
    assert language_code(None) is None


def test_settings_select_the_remote_recognizer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIO_SERVICE_URL", "http://gpu-box:8000")
    monkeypatch.setenv("AUDIO_SERVICE_MODEL", "large-v3")
    monkeypatch.setenv("AUDIO_SERVICE_API_KEY", "k-123")
    recognizer = build_recognizer(PipelineSettings())
    assert isinstance(recognizer, RemoteWhisperRecognizer)
    assert recognizer.model_name == "large-v3"
    assert "k-123" not in repr(recognizer)


def test_concurrent_requests_are_served_one_at_a_time(
    remote: RemoteWhisperRecognizer, sentence: tuple[FloatSamples, str]
) -> None:
    span, _text = sentence
    results: list[str] = []

    def worker() -> None:
        results.append(remote.recognize(span[: 3 * SAMPLE_RATE]).text)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2
    assert results[0] == results[1]
