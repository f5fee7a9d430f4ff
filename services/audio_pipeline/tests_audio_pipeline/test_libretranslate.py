"""LibreTranslate client: a PROTOCOL CONTRACT test, not a translation-quality test.

No real LibreTranslate can run here (no offline translation model is published on the
package registries this project may use), so the client talks to a small local HTTP server
that speaks LibreTranslate's wire protocol (``POST /translate`` JSON, ``GET /languages``,
``{"error": ...}`` bodies with 4xx/5xx) and "translates" from a fixed phrase table. What is
proven: the requests the client sends (fields, api_key), how it reads answers, how it maps
failures (status codes, timeouts, refused connections, broken JSON) to TranslationError and
its ``retryable`` flag, its caching of /languages, and that the API key never reaches a log
line or an exception message. What is not: whether any real service translates well.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from livetranslate_audio_pipeline.adapters.libretranslate import LibreTranslateClient
from livetranslate_audio_pipeline.adapters.redaction import redact_url
from livetranslate_audio_pipeline.asr_server import serve_in_background
from livetranslate_audio_pipeline.config import PipelineSettings
from livetranslate_audio_pipeline.core.errors import TranslationError
from livetranslate_audio_pipeline.recognizers import build_translation_router

API_KEY = "lt-key-4f9c2e7a1b"

# The fake service's whole vocabulary: (source, target) -> {text: translation}.
PHRASES: dict[tuple[str, str], dict[str, str]] = {
    ("en", "de"): {"Good morning.": "Guten Morgen.", "Thank you.": "Danke."},
    ("en", "es"): {"Good morning.": "Buenos días."},
    ("de", "en"): {"Guten Morgen.": "Good morning."},
}
LANGUAGES = [
    {"code": "en", "name": "English", "targets": ["de", "en", "es"]},
    {"code": "de", "name": "German", "targets": ["de", "en"]},
    {"code": "es", "name": "Spanish", "targets": ["en", "es"]},
]


@dataclass
class FakeLibreTranslate:
    """Records what the client sent; the phrase table answers, special texts misbehave."""

    require_key: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    language_calls: int = 0
    languages_fail: bool = False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/languages")
        def languages() -> Response:
            self.language_calls += 1
            if self.languages_fail:
                return JSONResponse({"error": "overloaded"}, status_code=503)
            return JSONResponse(LANGUAGES)

        @app.post("/translate")
        async def translate(request: Request) -> Response:
            body = await request.json()
            self.requests.append(body)
            return await _answer(self, body)

        return app


async def _answer(fake: FakeLibreTranslate, body: dict[str, Any]) -> Response:
    import asyncio

    q, source, target = body.get("q"), body.get("source"), body.get("target")
    if fake.require_key and body.get("api_key") != API_KEY:
        return JSONResponse({"error": "Invalid API key"}, status_code=403)
    specials: dict[str, Response] = {
        "__500__": JSONResponse({"error": "internal failure"}, status_code=500),
        "__429__": JSONResponse({"error": "Slowdown: 1 per 1 second"}, status_code=429),
        "__badjson__": PlainTextResponse("<html>proxy error page</html>"),
        "__nofield__": JSONResponse({"translated": "wrong field"}),
        # A service that echoes the request in its error: the client must scrub the key.
        "__echo__": JSONResponse({"error": f"bad request {body}"}, status_code=400),
    }
    if q == "__slow__":
        await asyncio.sleep(1.5)
        return JSONResponse({"translatedText": "too late"})
    if isinstance(q, str) and q in specials:
        return specials[q]
    if source == "auto":
        source = next((s for (s, t), table in PHRASES.items() if t == target and q in table), None)
    table = PHRASES.get((str(source), str(target)))
    if table is None:
        return JSONResponse({"error": f"{source} -> {target} is not supported"}, status_code=400)
    if q not in table:
        return JSONResponse({"error": "not in the phrase table"}, status_code=400)
    return JSONResponse({"translatedText": table[q]})


@pytest.fixture(scope="module")
def fake() -> FakeLibreTranslate:
    return FakeLibreTranslate()


@pytest.fixture(scope="module")
def base_url(fake: FakeLibreTranslate) -> Iterator[str]:
    with serve_in_background(fake.app()) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[LibreTranslateClient]:
    client = LibreTranslateClient(base_url, api_key=API_KEY, timeout=5.0)
    yield client
    client.close()


def _all_text(error: BaseException) -> str:
    return str(error) + repr(error) + "".join(traceback.format_exception(error))


def test_translates_through_the_protocol(
    client: LibreTranslateClient, fake: FakeLibreTranslate
) -> None:
    assert client.translate("Good morning.", source_language="en", target_language="de") == (
        "Guten Morgen."
    )
    assert fake.requests[-1] == {
        "q": "Good morning.",
        "source": "en",
        "target": "de",
        "format": "text",
        "api_key": API_KEY,
    }
    # Regional tags go out as primary subtags; an unknown source as "auto".
    assert client.translate("Thank you.", source_language="en-GB", target_language="de-AT") == (
        "Danke."
    )
    assert client.translate("Guten Morgen.", source_language=None, target_language="en") == (
        "Good morning."
    )
    assert fake.requests[-1]["source"] == "auto"


def test_supports_reads_languages_once(base_url: str, fake: FakeLibreTranslate) -> None:
    client = LibreTranslateClient(base_url, api_key=API_KEY)
    before = fake.language_calls
    assert client.supports("en", "de")
    assert client.supports("de", "en")
    assert client.supports(None, "es")
    assert client.supports("en-US", "es-MX")
    assert not client.supports("de", "es")  # not among German's targets
    assert not client.supports("fr", "en")
    assert not client.supports("en", "ja")
    assert fake.language_calls == before + 1
    expiring = LibreTranslateClient(base_url, languages_ttl_s=0.0)
    expiring.supports("en", "de")
    time.sleep(0.01)
    expiring.supports("en", "de")
    assert fake.language_calls == before + 3


def test_languages_outage_is_retryable_not_unsupported(
    base_url: str, fake: FakeLibreTranslate
) -> None:
    fake.languages_fail = True
    try:
        client = LibreTranslateClient(base_url)
        with pytest.raises(TranslationError, match="HTTP 503: overloaded") as caught:
            client.supports("en", "de")
        assert caught.value.retryable is True
    finally:
        fake.languages_fail = False
    assert client.supports("en", "de")  # a failure is not cached


@pytest.mark.parametrize(
    ("text", "retryable", "message"),
    [
        ("__500__", True, "HTTP 500: internal failure"),
        ("__429__", True, "HTTP 429: Slowdown"),
        ("unknown sentence", False, "HTTP 400: not in the phrase table"),
        ("__badjson__", False, "not JSON"),
        ("__nofield__", False, "no translatedText"),
    ],
)
def test_failures_map_to_translation_errors(
    client: LibreTranslateClient, text: str, retryable: bool, message: str
) -> None:
    with pytest.raises(TranslationError, match=message) as caught:
        client.translate(text, source_language="en", target_language="de")
    assert caught.value.retryable is retryable
    assert caught.value.stage == "translation"


def test_wrong_key_is_not_retryable(base_url: str) -> None:
    client = LibreTranslateClient(base_url, api_key="wrong-key")
    with pytest.raises(TranslationError, match="HTTP 403: Invalid API key") as caught:
        client.translate("Good morning.", source_language="en", target_language="de")
    assert caught.value.retryable is False
    assert "wrong-key" not in _all_text(caught.value)


def test_timeout_is_retryable(base_url: str) -> None:
    client = LibreTranslateClient(base_url, api_key=API_KEY, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(TranslationError, match="timed out") as caught:
        client.translate("__slow__", source_language="en", target_language="de")
    assert time.monotonic() - started < 1.2
    assert caught.value.retryable is True


def test_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = LibreTranslateClient(f"http://127.0.0.1:{port}", api_key=API_KEY, timeout=2.0)
    with pytest.raises(TranslationError, match="ConnectError") as caught:
        client.translate("Good morning.", source_language="en", target_language="de")
    assert caught.value.retryable is True


def test_api_key_never_in_logs_or_errors(
    client: LibreTranslateClient, fake: FakeLibreTranslate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG/INFO
    client.translate("Good morning.", source_language="en", target_language="de")
    assert fake.requests[-1]["api_key"] == API_KEY  # it was sent ...
    errors: list[TranslationError] = []
    for text in ("__echo__", "__500__", "__badjson__"):
        with pytest.raises(TranslationError) as caught:
            client.translate(text, source_language="en", target_language="de")
        errors.append(caught.value)
    assert "***" in str(errors[0])  # the echoed key was scrubbed
    assert caplog.records  # something was logged, just not the key
    assert API_KEY not in caplog.text
    for error in errors:
        assert API_KEY not in _all_text(error)
    assert API_KEY not in repr(client)


def test_user_info_in_the_url_is_redacted() -> None:
    assert redact_url("https://user:pw@lt.example:8443/x") == "https://***@lt.example:8443/x"
    assert redact_url("http://lt.example/") == "http://lt.example/"
    client = LibreTranslateClient("http://user:pw@127.0.0.1:9", timeout=0.5)
    with pytest.raises(TranslationError) as caught:
        client.translate("x", source_language="en", target_language="de")
    assert "pw" not in str(caught.value)


def test_router_from_settings_uses_the_service(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSLATION_SERVICE_URL", base_url)
    monkeypatch.setenv("TRANSLATION_SERVICE_API_KEY", API_KEY)
    monkeypatch.delenv("PIPELINE_SPEECH_TRANSLATION", raising=False)
    router = build_translation_router(PipelineSettings())
    result = router.translate("Good morning.", source_language="en", target_language="es")
    assert (result.text, result.backend) == ("Buenos días.", "libretranslate")
    assert result.latency_ms < 5000
    # Several worker threads may share one client.
    outputs: list[str] = []

    def worker() -> None:
        outputs.append(
            router.translate("Thank you.", source_language="en", target_language="de").text
        )

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outputs == ["Danke."] * 4
