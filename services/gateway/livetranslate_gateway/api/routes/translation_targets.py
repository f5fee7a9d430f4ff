"""A session's translation targets: ``GET`` and ``PUT /api/sessions/{id}/translation-targets``.

Set at creation (``translate_to``) and changeable until the session's audio has ended: the
chunks cut from then on carry the new targets, so finals from then on are translated into
them (earlier ones keep theirs; ``POST .../reprocess`` with ``translate_to`` redoes a whole
session). How a change reaches a stream on another gateway instance:
``adapters.translation_targets``.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from livetranslate_gateway.adapters.translation_targets import (
    change_translation_targets,
    translation_targets_of,
)
from livetranslate_gateway.api.access import PrincipalDep, owned_session, require_key
from livetranslate_gateway.api.deps import ConnectionDep
from livetranslate_gateway.api.examples import SESSION_ID, examples
from livetranslate_gateway.api.problems import problem_responses
from livetranslate_gateway.api.routes.sessions import LANGUAGE_PATTERN, SessionId
from livetranslate_gateway.core.errors import SessionClosedError, SessionNotFoundError

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/sessions",
    tags=["sessions"],
    dependencies=[Depends(require_key)],
    responses=problem_responses(400, 401, 404, 413, 422, 429, 500),
)

MAX_TARGETS = 5


class TranslationTargetsChange(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples({"translate_to": ["es", "de"]}))

    translate_to: list[Annotated[str, Field(pattern=LANGUAGE_PATTERN)]] = Field(
        max_length=MAX_TARGETS,
        description="BCP-47 codes of the languages to translate each final into; [] for none",
    )


class TranslationTargets(BaseModel):
    model_config = ConfigDict(
        json_schema_extra=examples({"session_id": SESSION_ID, "translate_to": ["es", "de"]})
    )

    session_id: str
    translate_to: list[str]


@router.get("/{session_id}/translation-targets", response_model=TranslationTargets)
async def read_translation_targets(
    session_id: SessionId, principal: PrincipalDep, conn: ConnectionDep
) -> TranslationTargets:
    await owned_session(conn, session_id, principal)
    targets = await translation_targets_of(conn, session_id)
    return TranslationTargets(session_id=session_id, translate_to=targets or [])


@router.put(
    "/{session_id}/translation-targets",
    response_model=TranslationTargets,
    responses=problem_responses(409),
)
async def change_targets(
    session_id: SessionId,
    body: TranslationTargetsChange,
    principal: PrincipalDep,
    conn: ConnectionDep,
) -> TranslationTargets:
    """Translate the session's finals from now on into these languages (replacing the
    targets it had). Refused with 409 once its audio has ended: reprocess it instead."""
    session = await owned_session(conn, session_id, principal)
    if session.stream_ended_at is not None:
        raise SessionClosedError(
            f"session {session_id}'s audio has ended; POST .../reprocess with translate_to"
            " translates it again"
        )
    targets = list(dict.fromkeys(body.translate_to))
    if not await change_translation_targets(conn, session_id, targets):
        raise SessionNotFoundError(f"no session {session_id}")  # deleted meanwhile
    log.info("session %s: translation targets now %s", session_id, targets)
    return TranslationTargets(session_id=session_id, translate_to=targets)
