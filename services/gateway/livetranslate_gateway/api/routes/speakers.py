"""A session's speaker names: ``PUT /api/sessions/{id}/speakers``.

The gateway publishes only the changes (SpeakerNamesUpdated on audio-ingest, keyed by the
session, so in order with its audio); the pipeline merges them in log order and echoes the
complete mapping on audio-results, which the projector stores. So that the answer can carry
the resulting mapping, the gateway also merges the changes into the read model, holding the
row locked until the broker has the request: concurrent renames through several gateways
reach the log in the order they changed the row, and the mapping answered is the one the
echo will carry.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from livetranslate_common.readmodel.projection import merge_speaker_name_changes
from livetranslate_gateway.api.access import PrincipalDep, owned_session, require_key
from livetranslate_gateway.api.deps import ConnectionDep, PublisherDep
from livetranslate_gateway.api.examples import SPEAKER_NAMES, SPEAKER_NAMES_CHANGE, examples
from livetranslate_gateway.api.problems import problem_responses
from livetranslate_gateway.api.routes.sessions import SessionId
from livetranslate_gateway.core.errors import SessionNotFoundError
from livetranslate_gateway.core.speaker_names import (
    MAX_NAME_LENGTH,
    MAX_SPEAKER_NAMES,
    SPEAKER_LABEL_PATTERN,
    speaker_name_changes,
)
from livetranslate_schemas.events import SpeakerNamesUpdated

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/sessions",
    tags=["sessions"],
    dependencies=[Depends(require_key)],
    responses=problem_responses(400, 401, 404, 413, 422, 429, 500),
)

#: Request and response schema of a label -> name mapping, for the OpenAPI document. The
#: rules are checked by ``core.speaker_names`` (to answer with a problem document).
SPEAKER_NAMES_SCHEMA = {
    "propertyNames": {"pattern": SPEAKER_LABEL_PATTERN},
    "maxProperties": MAX_SPEAKER_NAMES,
}


class SpeakerNamesChange(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(SPEAKER_NAMES_CHANGE))

    names: Annotated[
        dict[str, str | None],
        Field(
            description=(
                f"Speaker label -> name (1..{MAX_NAME_LENGTH} characters); null removes the "
                "label's name; labels not listed keep theirs"
            ),
            examples=[{"SPEAKER_00": "Alice", "SPEAKER_01": None}],
            json_schema_extra=SPEAKER_NAMES_SCHEMA,
        ),
    ]


class SpeakerNames(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(SPEAKER_NAMES))

    session_id: str
    names: dict[str, str] = Field(description="The session's speaker names after the change")


@router.put(
    "/{session_id}/speakers", status_code=status.HTTP_202_ACCEPTED, response_model=SpeakerNames
)
async def name_speakers(
    session_id: SessionId,
    body: SpeakerNamesChange,
    principal: PrincipalDep,
    publisher: PublisherDep,
    conn: ConnectionDep,
) -> SpeakerNames:
    """Name (or rename, or unname) speakers, at any time, also after the session completed:
    the transcript, live results and their consumers show the new names from now on."""
    await owned_session(conn, session_id, principal)
    changes = speaker_name_changes(body.names)
    async with conn.transaction():
        names = await merge_speaker_name_changes(conn, session_id, changes)
        if names is None:  # only if the session row vanished meanwhile
            raise SessionNotFoundError(f"no session {session_id}")
        # Still inside the transaction: a failed publish undoes the merge.
        await publisher.publish(
            session_id, [SpeakerNamesUpdated(session_id=session_id, changes=changes)]
        )
    log.info("session %s: speaker names changed (%d)", session_id, len(changes))
    return SpeakerNames(session_id=session_id, names=names)
