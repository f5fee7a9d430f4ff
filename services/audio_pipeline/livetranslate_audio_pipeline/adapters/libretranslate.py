"""A TextTranslator for LibreTranslate-compatible HTTP services.

Wire protocol (LibreTranslate's own API):

- ``POST {base}/translate`` with JSON ``{"q", "source", "target", "format": "text",
  "api_key"?}`` answers ``{"translatedText": "..."}``; errors answer a 4xx/5xx status with
  ``{"error": "..."}``. ``source`` is ``"auto"`` when the language is unknown.
- ``GET {base}/languages`` answers ``[{"code", "name", "targets": [...]}, ...]``; ``targets``
  is missing in old versions, where every language pairs with every other.

Failures become TranslationError: timeouts, connection failures, 429 and 5xx are retryable;
other 4xx (bad request, unsupported pair, invalid or missing key) and a reply that breaks
the protocol are not. The API key travels only in the request body: it is never logged,
never in an exception message, never in ``repr``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import httpx

from livetranslate_audio_pipeline.adapters.redaction import redact_url
from livetranslate_audio_pipeline.core.errors import TranslationError
from livetranslate_audio_pipeline.core.translation import primary_language

log = logging.getLogger(__name__)

BACKEND_NAME = "libretranslate"
_RETRYABLE_STATUS = {408, 425, 429}
_MAX_ERROR_CHARS = 200


class LibreTranslateClient:
    """Blocking client; one connection pool, safe to share between threads."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        timeout: float = 10.0,
        *,
        languages_ttl_s: float = 3600.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._display_url = redact_url(self._base_url)
        self._api_key = api_key or None
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._languages_ttl_s = languages_ttl_s
        self._languages: dict[str, frozenset[str] | None] | None = None
        self._languages_at = 0.0
        self._languages_lock = threading.Lock()

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"LibreTranslateClient({self._display_url!r}, api_key={key})"

    @property
    def name(self) -> str:
        return BACKEND_NAME

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ languages

    def languages(self) -> dict[str, frozenset[str] | None]:
        """Source code -> its target codes (None: any language the service knows). Cached."""
        with self._languages_lock:
            now = time.monotonic()
            if self._languages is None or now - self._languages_at > self._languages_ttl_s:
                self._languages = self._fetch_languages()
                self._languages_at = now
            return self._languages

    def _fetch_languages(self) -> dict[str, frozenset[str] | None]:
        body = self._request("GET", "/languages", None)
        if not isinstance(body, list):
            raise self._protocol_error("/languages did not answer a list")
        table: dict[str, frozenset[str] | None] = {}
        for entry in body:
            if not isinstance(entry, dict) or not isinstance(entry.get("code"), str):
                raise self._protocol_error("/languages entry without a code")
            code = primary_language(entry["code"])
            if code is None:
                continue
            targets = entry.get("targets")
            if isinstance(targets, list):
                table[code] = frozenset(
                    t for t in (primary_language(str(x)) for x in targets) if t is not None
                )
            else:
                table[code] = None
        return table

    def supports(self, source: str | None, target: str) -> bool:
        table = self.languages()
        target_code = primary_language(target)
        if target_code is None or target_code not in table:
            return False
        source_code = primary_language(source)
        if source_code is None:
            return True  # the service detects the language ("auto")
        if source_code not in table:
            return False
        targets = table[source_code]
        return targets is None or target_code in targets

    # ------------------------------------------------------------------ translate

    def translate(self, text: str, *, source_language: str | None, target_language: str) -> str:
        payload: dict[str, Any] = {
            "q": text,
            "source": primary_language(source_language) or "auto",
            "target": primary_language(target_language) or target_language,
            "format": "text",
        }
        if self._api_key is not None:
            payload["api_key"] = self._api_key
        body = self._request("POST", "/translate", payload)
        translated = body.get("translatedText") if isinstance(body, dict) else None
        if not isinstance(translated, str):
            raise self._protocol_error("/translate answered no translatedText string")
        return translated

    # ------------------------------------------------------------------ plumbing

    def _request(self, method: str, path: str, payload: dict[str, Any] | None) -> Any:
        url = f"{self._base_url}{path}"
        where = f"{method} {self._display_url}{path}"
        try:
            response = self._client.request(method, url, json=payload)
        except httpx.TimeoutException as exc:
            raise TranslationError(f"{BACKEND_NAME}: {where} timed out", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise TranslationError(
                f"{BACKEND_NAME}: {where} failed: {type(exc).__name__}", retryable=True
            ) from exc
        if response.status_code >= 400:
            retryable = response.status_code >= 500 or response.status_code in _RETRYABLE_STATUS
            detail = self._scrub(self._error_detail(response))
            log.warning(
                "%s answered %s to %s%s",
                BACKEND_NAME,
                response.status_code,
                where,
                f": {detail}" if detail else "",
            )
            raise TranslationError(
                f"{BACKEND_NAME}: {where} answered HTTP {response.status_code}"
                + (f": {detail}" if detail else ""),
                retryable=retryable,
            )
        try:
            return response.json()
        except ValueError as exc:
            raise self._protocol_error(f"{where} answered something that is not JSON") from exc

    @staticmethod
    def _error_detail(response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        error = body.get("error") if isinstance(body, dict) else None
        return str(error)[:_MAX_ERROR_CHARS] if error is not None else ""

    def _scrub(self, message: str) -> str:
        # A service may echo the request; the key must not ride out in our messages.
        if self._api_key:
            message = message.replace(self._api_key, "***")
        return message

    @staticmethod
    def _protocol_error(message: str) -> TranslationError:
        return TranslationError(f"{BACKEND_NAME}: {message}", retryable=False)
