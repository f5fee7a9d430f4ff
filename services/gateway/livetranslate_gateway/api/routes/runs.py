"""Reprocessing runs: run a session's recorded audio again, follow the run, list a session's runs.

A run's results stand beside the live ones under its own run id:
``GET /api/sessions/{id}/transcript?run=<run_id>``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Depends, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from livetranslate_common.readmodel.projection import project_event
from livetranslate_common.readmodel.queries import RunRow, get_run, session_runs, unfinished_runs
from livetranslate_common.runs import RUN_ID_PATTERN, new_run_id
from livetranslate_gateway.api.access import PrincipalDep, owned_session, require_key
from livetranslate_gateway.api.deps import ConnectionDep, PublisherDep, SettingsDep
from livetranslate_gateway.api.examples import REPROCESS_CREATE, RUN_VIEW, examples
from livetranslate_gateway.api.problems import problem_responses
from livetranslate_gateway.api.routes.sessions import LANGUAGE_PATTERN, PRESET_PATTERN, SessionId
from livetranslate_gateway.core.errors import (
    InvalidReprocessRequestError,
    NoAudioError,
    RunNotFoundError,
    TooManyRunsError,
)
from livetranslate_gateway.core.upload_decoding import TARGET_SAMPLE_RATE
from livetranslate_schemas.events import ReprocessRequested

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/sessions",
    tags=["runs"],
    dependencies=[Depends(require_key)],
    responses=problem_responses(400, 401, 404, 409, 413, 422, 429, 500),
)

RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, description="A run's id")]
# Longer than any session the gateway accepts (GatewaySettings.max_audio_seconds, 4 h).
MAX_SESSION_MS = 24 * 60 * 60 * 1000


class ReprocessCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(REPROCESS_CREATE))

    """What the run changes; every field left out keeps the session's own setting."""

    model: str = Field(
        default="tiny.en",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="Speech model to recognise with: tiny.en, base, or one the operator added",
        examples=["base"],
    )
    preset: str | None = Field(default=None, pattern=PRESET_PATTERN)
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, examples=["de"])
    translate_to: list[Annotated[str, Field(pattern=LANGUAGE_PATTERN)]] | None = Field(
        default=None, max_length=5, description="Target languages; [] for none"
    )
    diarize: bool | None = None
    start_ms: int | None = Field(default=None, ge=0, le=MAX_SESSION_MS)
    end_ms: int | None = Field(default=None, gt=0, le=MAX_SESSION_MS)

    @model_validator(mode="after")
    def _range_is_forward(self) -> Self:
        if self.end_ms is not None and self.end_ms <= (self.start_ms or 0):
            msg = "end_ms must come after start_ms"
            raise ValueError(msg)
        return self


class RunView(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(RUN_VIEW))

    session_id: str
    run_id: str
    status: str = Field(description="REQUESTED, RUNNING, COMPLETED or FAILED")
    model: str
    # Defaults only so that the document's examples (which drop nulls) stay valid.
    pipeline_version: str | None = None
    processed_ms: int
    total_ms: int | None = None
    progress: float | None = Field(
        default=None, description="Share of the run's audio processed, 0..1"
    )
    final_segment_count: int
    start_ms: int | None = None
    end_ms: int | None = None
    error: str | None = None
    requested_at: datetime
    updated_at: datetime
    transcript: str = Field(description="Where the run's transcript is read")

    @classmethod
    def of(cls, session_id: str, row: RunRow) -> RunView:
        progress = None
        if row.status == "COMPLETED":
            progress = 1.0
        elif row.total_ms:
            progress = min(1.0, row.processed_ms / row.total_ms)
        return cls(
            session_id=session_id,
            run_id=row.run_id,
            status=row.status,
            model=row.model,
            pipeline_version=row.pipeline_version,
            processed_ms=row.processed_ms,
            total_ms=row.total_ms,
            progress=progress,
            final_segment_count=row.final_segment_count,
            start_ms=row.start_ms,
            end_ms=row.end_ms,
            error=row.error,
            requested_at=row.requested_at,
            updated_at=row.updated_at,
            transcript=f"/api/sessions/{session_id}/transcript?run={row.run_id}",
        )


def _check_model(body: ReprocessCreate, models: list[str]) -> None:
    if body.model not in models:
        raise InvalidReprocessRequestError(
            f"no speech model {body.model!r}; models: {', '.join(sorted(models))}"
        )
    language = (body.language or "").split("-")[0]
    if body.model.endswith(".en") and language not in ("", "en"):
        raise InvalidReprocessRequestError(
            f"speech model {body.model!r} knows English only; {body.language!r} needs a"
            " multilingual one"
        )


@router.post(
    "/{session_id}/reprocess", status_code=status.HTTP_202_ACCEPTED, response_model=RunView
)
async def reprocess_session(
    session_id: SessionId,
    body: ReprocessCreate,
    response: Response,
    principal: PrincipalDep,
    settings: SettingsDep,
    publisher: PublisherDep,
    conn: ConnectionDep,
) -> RunView:
    """Run the session's recorded audio again (all of it, or start_ms..end_ms) as a new run.

    The run's progress: ``GET /api/sessions/{id}/runs/{run_id}`` (and RunProgress messages on
    the session's results socket).
    """
    session = await owned_session(conn, session_id, principal)
    if session.stream_ended_at is None:
        raise NoAudioError(f"session {session_id} has no recorded audio yet to run again")
    _check_model(body, settings.reprocess_models)
    if await unfinished_runs(conn, session_id) >= settings.max_unfinished_runs:
        raise TooManyRunsError(
            f"session {session_id} has {settings.max_unfinished_runs} runs asked for or running;"
            " wait for one to end"
        )
    total_ms = (
        session.total_samples * 1000 // TARGET_SAMPLE_RATE
        if session.total_samples is not None
        else None
    )
    request = ReprocessRequested(
        session_id=session_id,
        run_id=new_run_id(),
        model=body.model,
        requested_by=principal.key_id,
        preset=body.preset,
        language=body.language,
        translate_to=list(dict.fromkeys(body.translate_to))
        if body.translate_to is not None
        else None,
        diarize=body.diarize,
        start_ms=body.start_ms,
        end_ms=body.end_ms,
        audio_since=session.created_at,
        total_ms=total_ms,
    )
    (envelope,) = await publisher.publish(session_id, [request])
    # The projector writes the same row from the event; written here too (idempotently), the
    # run is listed at once.
    await project_event(conn, envelope)
    log.info("session %s: run %s requested (%s)", session_id, request.run_id, body.model)
    row = await get_run(conn, session_id, request.run_id)
    if row is None:  # only if the row was deleted between the two statements
        raise RunNotFoundError(f"run {request.run_id} vanished")
    response.headers["Location"] = f"/api/sessions/{session_id}/runs/{request.run_id}"
    return RunView.of(session_id, row)


@router.get("/{session_id}/runs", response_model=list[RunView])
async def list_runs(
    session_id: SessionId, principal: PrincipalDep, conn: ConnectionDep
) -> list[RunView]:
    """The session's reprocessing runs, oldest first (the live run is ``live``, not listed)."""
    await owned_session(conn, session_id, principal)
    return [RunView.of(session_id, row) for row in await session_runs(conn, session_id)]


@router.get("/{session_id}/runs/{run_id}", response_model=RunView)
async def read_run(
    session_id: SessionId, run_id: RunId, principal: PrincipalDep, conn: ConnectionDep
) -> RunView:
    await owned_session(conn, session_id, principal)
    row = await get_run(conn, session_id, run_id)
    if row is None:
        raise RunNotFoundError(f"session {session_id} has no run {run_id}")
    return RunView.of(session_id, row)
