"""The web page: ``GET /`` and its three assets under ``/web/``.

The page (``livetranslate_gateway/web``: plain HTML, CSS and JavaScript, no build step) starts
sessions from the microphone or a file and shows their transcripts live through the same
REST and WebSocket API as any client; ``services/gateway/WEB_PAGE.md`` describes it. It
holds no secret: the API key is typed into it, so it is served without one.

Only the files named here are served (nothing else from the directory, no path from the
request), each with its media type set rather than guessed. Left out of the OpenAPI document,
which describes the API.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

_JAVASCRIPT = "text/javascript; charset=utf-8"
ASSETS = {
    "app.js": _JAVASCRIPT,
    "capture-worklet.js": _JAVASCRIPT,
    "app.css": "text/css; charset=utf-8",
}

# The page runs its own files only: no inline script or style (what an injected transcript
# line would need), nothing from another origin. It talks to this gateway over fetch and
# WebSocket, and may not be framed (clickjacking) or submit forms anywhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # data: for the page's empty icon
        "connect-src 'self'",  # fetch and WebSocket to this gateway only (CSP 3)
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

_HEADERS = {
    # Browsers use the declared type, never a guess (a module script must be JavaScript).
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on every load (cheap: ETag and Last-Modified), so an upgraded gateway's
    # page never runs with an old script.
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    return FileResponse(
        WEB_DIR / "index.html",
        media_type="text/html; charset=utf-8",
        headers={**_HEADERS, "Content-Security-Policy": CONTENT_SECURITY_POLICY},
    )


@router.get("/web/{name}")
async def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    return FileResponse(WEB_DIR / name, media_type=media_type, headers=_HEADERS)
