"""An OpenAI-compatible speech-recognition server around the pipeline's local recognizer.

Operators run it on a GPU (or just a bigger) machine and point the pipeline at it with
``AUDIO_SERVICE_URL``; any OpenAI-compatible client can use it as well::

    python -m livetranslate_audio_pipeline.asr_server --host 0.0.0.0 --port 8000

Endpoints:

- ``POST /v1/audio/transcriptions`` (multipart): ``file`` (WAV, or anything PyAV decodes),
  ``model`` (required, any name: the server has one model and reports it), ``language``
  (a Whisper language code), ``response_format`` (``json``, ``text``, ``verbose_json``),
  ``timestamp_granularities[]`` (``word``, ``segment``). ``prompt`` (the text said before
  the audio; its last 800 characters condition the model) and ``temperature`` (accepted and
  ignored).
- ``GET /v1/models``, ``GET /health``.

Guards: the request body is limited (``--max-upload-mb``, checked on Content-Length and
while streaming: 413), the decoded audio too (``--max-audio-s``: 413), undecodable or empty
audio is a 400, an unknown language or format a 400; errors come in OpenAI's shape
``{"error": {"message", "type", "code"}}``. With ``ASR_SERVER_API_KEY`` set, requests need
``Authorization: Bearer <key>``. Recognitions run one at a time per process in a worker
thread (the model is CPU/GPU bound), so the event loop keeps answering.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import hmac
import io
import logging
import math
import os
import socket
import threading
import time
import wave
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException

from livetranslate_audio_pipeline.adapters.remote_whisper import (
    TRANSCRIPTIONS_PATH,
    WHISPER_LANGUAGES,
)
from livetranslate_audio_pipeline.core.audio import PIPELINE_SAMPLE_RATE, Samples
from livetranslate_audio_pipeline.core.errors import PipelineError
from livetranslate_audio_pipeline.core.recognition import (
    Recognition,
    SpeechRecognizer,
    recognition_context,
)

log = logging.getLogger(__name__)

API_KEY_ENV = "ASR_SERVER_API_KEY"
DEFAULT_MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # OpenAI's own limit
DEFAULT_MAX_AUDIO_S = 30 * 60.0
RESPONSE_FORMATS = ("json", "text", "verbose_json")
GRANULARITIES = ("word", "segment")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.kind = kind


def _error_body(message: str, code: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` before they are parsed or spooled to disk."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # FastAPI passes HTTPExceptions from body parsing through untouched.
                    raise HTTPException(413, "request body too large")
            return message

        await self.app(scope, limited_receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            _error_body(
                f"request body larger than {self.max_bytes} bytes",
                "file_too_large",
                "invalid_request_error",
            ),
            status_code=413,
        )
        await response(scope, receive, send)


def decode_audio_bytes(data: bytes) -> Samples:
    """An uploaded file as 16 kHz mono float32: PCM16 WAV directly, the rest through PyAV."""
    if not data:
        raise ApiError(400, "the uploaded file is empty", "empty_file")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        try:
            with wave.open(io.BytesIO(data)) as reader:
                rate, channels, width = (
                    reader.getframerate(),
                    reader.getnchannels(),
                    reader.getsampwidth(),
                )
                frames = reader.readframes(reader.getnframes())
            if rate == PIPELINE_SAMPLE_RATE and width == 2:
                pcm = np.frombuffer(frames[: len(frames) // (2 * channels) * 2 * channels], "<i2")
                mono: Samples = (
                    pcm.astype(np.float32).reshape(-1, channels).mean(axis=1) / 32768.0
                ).astype(np.float32)
                return mono
        except (wave.Error, EOFError, ValueError):
            pass  # not plain PCM (float WAV, extensible header, ...): let PyAV try
    from faster_whisper import decode_audio

    try:
        decoded = decode_audio(io.BytesIO(data), sampling_rate=PIPELINE_SAMPLE_RATE)
    except Exception as exc:  # PyAV raises its own error family for every broken file
        raise ApiError(
            400, f"cannot decode the audio: {type(exc).__name__}", "invalid_audio"
        ) from exc
    result: Samples = np.asarray(decoded, dtype=np.float32)
    return result


def _verbose(
    recognition: Recognition, duration_s: float, granularities: list[str]
) -> dict[str, Any]:
    language = recognition.language
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": WHISPER_LANGUAGES.get(language or "", language or ""),
        "duration": round(duration_s, 3),
        "text": recognition.text,
    }
    words = recognition.words
    if "word" in granularities:
        body["words"] = [
            {
                "word": w.word,
                "start": w.start_ms / 1000,
                "end": w.end_ms / 1000,
                "probability": w.probability,
            }
            for w in words
        ]
    if "segment" in granularities or not granularities:
        confidence = recognition.confidence
        body["segments"] = (
            [
                {
                    "id": 0,
                    "seek": 0,
                    "start": words[0].start_ms / 1000 if words else 0.0,
                    "end": words[-1].end_ms / 1000 if words else round(duration_s, 3),
                    "text": recognition.text,
                    "tokens": [],
                    "temperature": 0.0,
                    "avg_logprob": math.log(confidence) if confidence else None,
                    "compression_ratio": None,
                    "no_speech_prob": None,
                }
            ]
            if recognition.text
            else []
        )
    return body


def _validate_options(
    response_format: str, granularities: list[str] | None, language: str | None
) -> tuple[list[str], str | None]:
    """Checked (granularities, language code) of a transcription request."""
    if response_format not in RESPONSE_FORMATS:
        raise ApiError(
            400,
            f"response_format must be one of {', '.join(RESPONSE_FORMATS)}",
            "unsupported_response_format",
        )
    granted = list(granularities or [])
    if any(g not in GRANULARITIES for g in granted):
        raise ApiError(400, "timestamp_granularities[] takes word, segment", "invalid_value")
    code = language.strip().lower() if language else None
    if code is not None and code not in WHISPER_LANGUAGES:
        raise ApiError(400, f"unsupported language {code!r}", "unsupported_language")
    return granted, code


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(_error_body(exc.message, exc.code, exc.kind), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Name the fields, never echo their values (an upload's bytes, a key).
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ()) if p != 'body')}: {error.get('msg')}"
            for error in exc.errors()
        )
        return JSONResponse(
            _error_body(problems or "invalid request", "invalid_request", "invalid_request_error"),
            status_code=400,
        )

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = "file_too_large" if exc.status_code == 413 else "http_error"
        return JSONResponse(
            _error_body(str(exc.detail), code, "invalid_request_error"), status_code=exc.status_code
        )


def create_app(
    recognizer: SpeechRecognizer,
    *,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_audio_s: float = DEFAULT_MAX_AUDIO_S,
    api_key: str | None = None,
) -> FastAPI:
    app = FastAPI(title="LiveTranslate ASR", docs_url=None, redoc_url=None)
    app.add_middleware(BodySizeLimit, max_bytes=max_upload_bytes)
    _install_error_handlers(app)
    busy = asyncio.Semaphore(1)

    def check_key(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        expected = f"Bearer {api_key}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(401, "invalid or missing API key", "invalid_api_key")

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "model": recognizer.model_name}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        check_key(request)
        return {
            "object": "list",
            "data": [{"id": recognizer.model_name, "object": "model", "owned_by": "livetranslate"}],
        }

    @app.post(TRANSCRIPTIONS_PATH, response_model=None)
    async def transcriptions(
        request: Request,
        file: Annotated[UploadFile, File()],
        model: Annotated[str, Form(min_length=1, max_length=200)],
        language: Annotated[str | None, Form(max_length=16)] = None,
        response_format: Annotated[str, Form(max_length=32)] = "json",
        granularities: Annotated[list[str] | None, Form(alias="timestamp_granularities[]")] = None,
        prompt: Annotated[str | None, Form(max_length=4000)] = None,
        temperature: Annotated[float | None, Form(ge=0, le=1)] = None,
    ) -> Response:
        check_key(request)
        granted, code = _validate_options(response_format, granularities, language)
        samples = decode_audio_bytes(await file.read())
        duration_s = len(samples) / PIPELINE_SAMPLE_RATE
        if duration_s > max_audio_s:
            raise ApiError(
                413,
                f"audio is {duration_s:.0f} s, the limit is {max_audio_s:.0f} s",
                "audio_too_long",
            )
        async with busy:
            try:
                recognition = await asyncio.to_thread(
                    functools.partial(
                        recognizer.recognize,
                        samples,
                        language=code,
                        context=recognition_context([prompt or ""], keep=1),
                    )
                )
            except PipelineError as exc:
                log.warning("recognition failed: %s", exc)
                raise ApiError(
                    503 if exc.retryable else 500,
                    "recognition failed",
                    exc.error_code,
                    "server_error",
                ) from exc
        log.info(
            "transcribed %.1f s of audio (requested model %r, served %s)",
            duration_s,
            model,
            recognizer.model_name,
        )
        if response_format == "text":
            return PlainTextResponse(recognition.text)
        if response_format == "json":
            return JSONResponse({"text": recognition.text})
        return JSONResponse(_verbose(recognition, duration_s, granted))

    return app


@contextlib.contextmanager
def serve_in_background(app: ASGIApp, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free port in a daemon thread; yields its base URL.

    For embedding the server in another process, and for tests of HTTP clients.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _build_recognizer(args: argparse.Namespace) -> SpeechRecognizer:
    from livetranslate_audio_pipeline.config import PipelineSettings
    from livetranslate_audio_pipeline.recognizers import build_local_recognizer

    settings = PipelineSettings()
    if args.model == "base":
        from livetranslate_audio_pipeline.adapters.whisper_translate import (
            WhisperSpeechTranslator,
        )

        return WhisperSpeechTranslator(
            cache_dir=settings.whisper_cache_dir,
            beam_size=settings.beam_size,
            cpu_threads=settings.asr_threads,
        )
    # The settings' local recognizer: WHISPER_MODEL_DIR when set, else the embedded tiny.en.
    # Never the remote one, even with AUDIO_SERVICE_URL set: a server must not call itself.
    return build_local_recognizer(settings)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--model",
        choices=("settings", "base"),
        default="settings",
        help="'settings': WHISPER_MODEL_DIR or the embedded tiny.en; 'base': multilingual base",
    )
    parser.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_BYTES / 2**20)
    parser.add_argument("--max-audio-s", type=float, default=DEFAULT_MAX_AUDIO_S)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    import uvicorn

    app = create_app(
        _build_recognizer(args),
        max_upload_bytes=round(args.max_upload_mb * 2**20),
        max_audio_s=args.max_audio_s,
        api_key=os.environ.get(API_KEY_ENV) or None,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level.lower())


if __name__ == "__main__":
    main()
