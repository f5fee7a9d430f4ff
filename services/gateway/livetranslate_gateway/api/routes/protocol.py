"""``GET /api/asyncapi.json``: the WebSocket protocol as an AsyncAPI 3.0 document.

What ``/openapi.json`` is for the REST API, this is for the two sockets: the results socket
(``/ws/sessions/{id}``) and the live audio socket (``/ws/sessions/{id}/audio``), every message
in both directions with a JSON Schema, the ways to present a key, and the close codes (in each
channel's ``x-close-codes``). The document is ``livetranslate_gateway/asyncapi.json``, kept in
step with the code by ``tests_gateway/test_asyncapi.py``. Like ``/openapi.json`` it needs no
key, and it is left out of the OpenAPI document.
"""

from __future__ import annotations

import json
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter()

ASYNCAPI_PATH = "/api/asyncapi.json"

#: The document's bytes, read once; parsed here so that a broken file fails at import.
ASYNCAPI_DOCUMENT: bytes = files("livetranslate_gateway").joinpath("asyncapi.json").read_bytes()
json.loads(ASYNCAPI_DOCUMENT)


@router.get(ASYNCAPI_PATH, include_in_schema=False)
async def asyncapi_document() -> Response:
    return Response(ASYNCAPI_DOCUMENT, media_type="application/json")
