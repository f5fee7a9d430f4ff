"""Sessions: create one, upload its audio, read its transcript."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from livetranslate_common.readmodel.projection import project_event
from livetranslate_common.readmodel.queries import (
    SessionRow,
    get_run,
    owned_sessions,
    segment_translations,
    speaker_names,
    transcript_segments,
    unfinished_runs,
)
from livetranslate_common.runs import LIVE_RUN, RUN_ID_PATTERN
from livetranslate_gateway.adapters.audio_sources import (
    claim_audio_source,
    describe_source,
    release_audio_source,
)
from livetranslate_gateway.api.access import PrincipalDep, owned_session, require_key
from livetranslate_gateway.api.deps import ConnectionDep, PublisherDep, SettingsDep
from livetranslate_gateway.api.examples import (
    SEGMENT,
    SESSION_CREATE,
    SESSION_PAGE,
    SESSION_VIEW,
    SRT,
    TRANSCRIPT,
    UPLOAD_ACCEPTED,
    WEBVTT,
    examples,
)
from livetranslate_gateway.api.problems import problem_responses
from livetranslate_gateway.core.chunking import (
    SessionAudioContext,
    chunk_events,
    stream_end_event,
)
from livetranslate_gateway.core.errors import (
    AudioInProgressError,
    AudioTooLargeError,
    RunNotFoundError,
    SessionBusyError,
    SessionClosedError,
)
from livetranslate_gateway.core.speaker_names import (
    MAX_NAME_LENGTH,
    MAX_SPEAKER_NAMES,
    SPEAKER_LABEL_PATTERN,
    speaker_names_at_creation,
)
from livetranslate_gateway.core.subtitles import Cue, to_srt, to_webvtt
from livetranslate_gateway.core.upload_decoding import TARGET_SAMPLE_RATE, decode_upload
from livetranslate_schemas.events import (
    AudioConfig,
    ProcessingFlags,
    SessionCreated,
    SessionDeleted,
    SourceType,
)

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/sessions",
    tags=["sessions"],
    dependencies=[Depends(require_key)],
    responses=problem_responses(400, 401, 404, 413, 422, 429, 500),
)

SESSION_ID_PATTERN = r"^[0-9a-f-]{36}$"
SessionId = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="A session's uuid")]


LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"
PRESET_PATTERN = r"^[a-z0-9_-]{1,32}$"


# PostgreSQL's text and jsonb cannot hold U+0000: refused here, before anything is
# published (an event the read model cannot store would stay on the log).
NO_NUL_PATTERN = r"^[^\x00]*$"


class SessionCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(SESSION_CREATE))

    title: str | None = Field(default=None, max_length=200, pattern=NO_NUL_PATTERN)
    language: str | None = Field(default=None, pattern=LANGUAGE_PATTERN, examples=["en"])
    metadata: dict[
        Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL_PATTERN)],
        Annotated[str, Field(max_length=500, pattern=NO_NUL_PATTERN)],
    ] = Field(default_factory=dict, max_length=20)
    translate_to: list[Annotated[str, Field(pattern=LANGUAGE_PATTERN)]] = Field(
        default_factory=list,
        max_length=5,
        description="BCP-47 codes of the languages to translate each final segment into",
        examples=[["es", "de"]],
    )
    diarize: bool = Field(default=True, description="Label speakers")
    preset: str | None = Field(
        default=None, pattern=PRESET_PATTERN, description="Audio-stage preset name"
    )
    # Checked by core.speaker_names rather than by type, for an RFC 9457 answer.
    speaker_names: dict[str, str | None] = Field(
        default_factory=dict,
        description=f"Speaker label -> name (1..{MAX_NAME_LENGTH} characters), known in advance",
        examples=[{"SPEAKER_00": "Alice", "SPEAKER_01": "Bob"}],
        json_schema_extra={
            "propertyNames": {"pattern": SPEAKER_LABEL_PATTERN},
            "maxProperties": MAX_SPEAKER_NAMES,
        },
    )


class SessionView(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(SESSION_VIEW))

    session_id: str
    title: str | None
    source_type: str
    created_at: datetime
    status: str
    final_segment_count: int | None = None


class SessionPage(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(SESSION_PAGE))

    sessions: list[SessionView]
    # Pass as ``before`` for the next page; null on the last one.
    next_before: str | None = None


class UploadAccepted(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(UPLOAD_ACCEPTED))

    session_id: str
    chunks: int
    duration_ms: int


class Word(BaseModel):
    word: str
    start_ms: int
    end_ms: int
    probability: float | None = None


class Segment(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(SEGMENT))

    segment_id: str
    start_ms: int
    end_ms: int
    text: str
    speaker: str | None
    # The speaker's name now: renaming later renames the whole transcript.
    speaker_name: str | None = None
    language: str | None
    revision: int
    words: list[Word]
    # Target language -> text, for the languages the run translated this segment into.
    translations: dict[str, str] = Field(default_factory=dict)


class Transcript(BaseModel):
    model_config = ConfigDict(json_schema_extra=examples(TRANSCRIPT))

    session_id: str
    run_id: str
    status: str
    segments: list[Segment]
    speaker_names: dict[str, str] = Field(default_factory=dict)


def _status(session: SessionRow) -> str:
    if session.completed_at is not None:
        return "completed"
    if session.stream_ended_at is not None:
        return "processing"
    return "open"


async def session_audio_context(
    conn: Any, session: SessionRow, source_type: SourceType
) -> SessionAudioContext:
    """The session's language, preset and processing flags, as its SessionCreated set them."""
    async with conn.cursor() as cursor:
        await cursor.execute(
            "SELECT audio_config, processing_flags FROM sessions WHERE session_id = %s",
            (session.session_id,),
        )
        row = await cursor.fetchone()
    audio_config, processing_flags = row if row is not None else ({}, {})
    return SessionAudioContext.from_read_model(
        session_id=session.session_id,
        user_id=session.user_id,
        source_type=source_type,
        audio_config=audio_config,
        processing_flags=processing_flags,
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SessionView)
async def create_session(
    body: SessionCreate, principal: PrincipalDep, publisher: PublisherDep, conn: ConnectionDep
) -> SessionView:
    names = speaker_names_at_creation(body.speaker_names)
    session_id = str(uuid.uuid4())
    created = SessionCreated(
        session_id=session_id,
        # The caller's tenant owns the session: only its keys see it. Never from the body.
        user_id=principal.tenant_id,
        source_type=SourceType.UPLOAD,
        audio_config=AudioConfig(language=body.language, preset=body.preset),
        processing_flags=ProcessingFlags(
            diarize=body.diarize,
            translate_to=list(dict.fromkeys(body.translate_to)),
            speaker_names=names,
        ),
        title=body.title,
        metadata=body.metadata,
    )
    (envelope,) = await publisher.publish(session_id, [created])
    # The projector writes the same row from the event; writing it here too (idempotently)
    # makes the session usable at once instead of after the projector's lag.
    await project_event(conn, envelope)
    log.info("session %s created", session_id)
    return SessionView(
        session_id=session_id,
        title=body.title,
        source_type=created.source_type.value,
        created_at=envelope.timestamp,
        status="open",
    )


@router.get("", response_model=SessionPage)
async def list_sessions(
    principal: PrincipalDep,
    conn: ConnectionDep,
    limit: Annotated[int, Query(ge=1, le=200, description="Sessions per page")] = 50,
    before: Annotated[
        str | None,
        Query(
            pattern=SESSION_ID_PATTERN,
            description="The previous page's next_before: the sessions created before it",
        ),
    ] = None,
) -> SessionPage:
    """The caller's tenant's sessions, newest first, a page at a time."""
    rows = await owned_sessions(conn, principal.tenant_id, limit=limit + 1, before=before)
    page = [_view(row) for row in rows[:limit]]
    return SessionPage(
        sessions=page, next_before=page[-1].session_id if len(rows) > limit else None
    )


@router.get("/{session_id}", response_model=SessionView)
async def read_session(
    session_id: SessionId, principal: PrincipalDep, conn: ConnectionDep
) -> SessionView:
    return _view(await owned_session(conn, session_id, principal))


@router.post("/{session_id}/end", response_model=SessionView, responses=problem_responses(409))
async def end_session(
    session_id: SessionId, principal: PrincipalDep, publisher: PublisherDep, conn: ConnectionDep
) -> SessionView:
    """No audio will come: a session given none completes, with an empty transcript.

    A session whose audio has ended already is answered as it is. One whose audio is coming
    in (a live stream, an upload being published) is refused with 409 audio_in_progress: a
    live stream ends when its client sends ``end``.
    """
    session = await owned_session(conn, session_id, principal)
    if session.stream_ended_at is not None:
        return _view(session)
    # Claimed like an upload of nothing, so that no stream or upload can start meanwhile.
    holder = await claim_audio_source(conn, session_id, SourceType.UPLOAD)
    if holder is not None:
        raise AudioInProgressError(
            f"session {session_id} takes its audio from {describe_source(holder)}; it ends with it"
        )
    end = stream_end_event(session_id, total_chunks=0, total_samples=0, reason="ended_by_client")
    try:
        (envelope,) = await publisher.publish(session_id, [end])
    except Exception:
        await release_audio_source(conn, session_id, SourceType.UPLOAD)
        raise
    await project_event(conn, envelope)
    log.info("session %s ended without audio", session_id)
    return _view(await owned_session(conn, session_id, principal))


@router.delete(
    "/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(409),
)
async def delete_session(
    session_id: SessionId, principal: PrincipalDep, publisher: PublisherDep, conn: ConnectionDep
) -> Response:
    """Delete the session: its transcript, names and runs are gone from the API at once, and
    from every consumer of the log (SessionDeleted: read models drop the rows, also when
    rebuilt; the pipeline forgets its state, voices included). Its audio stays on audio-ingest
    until that topic's retention ends (90 days by default).

    Refused with 409 while there is work on it: audio coming in (``audio_in_progress``), audio
    being transcribed or a reprocessing run unfinished (``session_busy``).
    """
    session = await owned_session(conn, session_id, principal)
    claimed = False
    if session.stream_ended_at is None:
        # Never given audio: claimed, so that none can start while it is deleted.
        holder = await claim_audio_source(conn, session_id, SourceType.UPLOAD)
        if holder is not None:
            raise AudioInProgressError(
                f"session {session_id} takes its audio from {describe_source(holder)}; delete"
                " it once that has ended and been transcribed"
            )
        claimed = True
    elif session.completed_at is None:
        raise SessionBusyError(
            f"session {session_id} is being transcribed; delete it once it has completed"
        )
    try:
        if await unfinished_runs(conn, session_id) > 0:
            raise SessionBusyError(
                f"session {session_id} has a reprocessing run unfinished; delete it after"
            )
        deleted = SessionDeleted(session_id=session_id, deleted_by=principal.key_id)
        (envelope,) = await publisher.publish(session_id, [deleted])
    except Exception:
        if claimed:
            await release_audio_source(conn, session_id, SourceType.UPLOAD)
        raise
    await project_event(conn, envelope)
    log.info("session %s deleted", session_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _view(session: SessionRow) -> SessionView:
    return SessionView(
        session_id=session.session_id,
        title=session.title,
        source_type=session.source_type,
        created_at=session.created_at,
        status=_status(session),
        final_segment_count=session.final_segment_count,
    )


@router.post(
    "/{session_id}/audio",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=UploadAccepted,
    responses=problem_responses(409, 413, 415),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"audio/*": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_audio(
    session_id: SessionId,
    request: Request,
    principal: PrincipalDep,
    settings: SettingsDep,
    publisher: PublisherDep,
    conn: ConnectionDep,
) -> UploadAccepted:
    """Upload a whole recording (WAV, FLAC, OGG, MP3...) as the request body."""
    session = await owned_session(conn, session_id, principal)
    if session.stream_ended_at is not None:
        raise SessionClosedError(f"session {session_id} already has its audio")
    data = await _read_bounded(request, settings.max_upload_bytes)
    samples = await asyncio.to_thread(
        decode_upload, data, max_duration_s=settings.max_audio_seconds
    )
    # Every chunk repeats the session's language and flags (translate_to, diarize...).
    context = await session_audio_context(conn, session, SourceType.UPLOAD)
    chunk_samples = TARGET_SAMPLE_RATE * settings.chunk_ms // 1000
    chunks = list(chunk_events(context, samples, chunk_samples=chunk_samples))
    end = stream_end_event(session_id, total_chunks=len(chunks), total_samples=len(samples))
    # Claimed once the upload is known good, so a bad file leaves the session free.
    holder = await claim_audio_source(conn, session_id, SourceType.UPLOAD)
    if holder is not None:
        raise SessionClosedError(
            f"session {session_id} already takes its audio from {describe_source(holder)}"
        )
    try:
        envelopes = await publisher.publish(session_id, [*chunks, end])
    except Exception:
        # Kafka refused it: the client may upload again. (Chunks already out repeat the
        # same numbers; the pipeline drops them as duplicates of what the retry sends.)
        await release_audio_source(conn, session_id, SourceType.UPLOAD)
        raise
    await project_event(conn, envelopes[-1])
    log.info("session %s: %d chunks (%d samples) published", session_id, len(chunks), len(samples))
    return UploadAccepted(
        session_id=session_id,
        chunks=len(chunks),
        duration_ms=len(samples) * 1000 // TARGET_SAMPLE_RATE,
    )


RunQuery = Annotated[str, Query(pattern=RUN_ID_PATTERN)]


@router.get("/{session_id}/transcript", response_model=Transcript)
async def read_transcript(
    session_id: SessionId, principal: PrincipalDep, conn: ConnectionDep, run: RunQuery = LIVE_RUN
) -> Transcript:
    return await _transcript(conn, await owned_session(conn, session_id, principal), run)


class SubRipResponse(PlainTextResponse):
    media_type = "application/x-subrip"


class WebVttResponse(PlainTextResponse):
    media_type = "text/vtt"


_SUBTITLE_FORMATS: dict[str, tuple[type[PlainTextResponse], Callable[[list[Cue]], str]]] = {
    "srt": (SubRipResponse, to_srt),
    "vtt": (WebVttResponse, to_webvtt),
}


@router.get(
    "/{session_id}/transcript.srt",
    response_class=SubRipResponse,
    responses={200: {"content": {SubRipResponse.media_type: {"example": SRT}}}},
)
async def download_srt(
    session_id: SessionId, principal: PrincipalDep, conn: ConnectionDep, run: RunQuery = LIVE_RUN
) -> PlainTextResponse:
    """The run's final segments as SubRip subtitles, the speaker before each cue's text."""
    return await _subtitles(conn, await owned_session(conn, session_id, principal), run, "srt")


@router.get(
    "/{session_id}/transcript.vtt",
    response_class=WebVttResponse,
    responses={200: {"content": {WebVttResponse.media_type: {"example": WEBVTT}}}},
)
async def download_webvtt(
    session_id: SessionId, principal: PrincipalDep, conn: ConnectionDep, run: RunQuery = LIVE_RUN
) -> PlainTextResponse:
    """The run's final segments as WebVTT subtitles, each speaker a voice (``<v Alice>``)."""
    return await _subtitles(conn, await owned_session(conn, session_id, principal), run, "vtt")


async def _subtitles(conn: Any, session: SessionRow, run: str, extension: str) -> PlainTextResponse:
    session_id = session.session_id
    transcript = await _transcript(conn, session, run)
    response_class, render = _SUBTITLE_FORMATS[extension]
    cues = [
        Cue(
            start_ms=segment.start_ms,
            end_ms=segment.end_ms,
            text=segment.text,
            speaker=segment.speaker_name or segment.speaker,
        )
        for segment in transcript.segments
    ]
    return response_class(
        render(cues),
        headers={"Content-Disposition": f'attachment; filename="{session_id}-{run}.{extension}"'},
    )


async def _transcript(conn: Any, session: SessionRow, run: str) -> Transcript:
    session_id = session.session_id
    if run != LIVE_RUN and await get_run(conn, session_id, run) is None:
        raise RunNotFoundError(f"session {session_id} has no run {run}")
    rows = await transcript_segments(conn, session_id, run_id=run)
    translations = await segment_translations(conn, session_id, run_id=run)
    names = await speaker_names(conn, session_id)
    return Transcript(
        session_id=session_id,
        run_id=run,
        status=_status(session),
        segments=[
            Segment(
                segment_id=row.segment_id,
                start_ms=row.start_ms,
                end_ms=row.end_ms,
                text=row.text,
                speaker=row.speaker,
                speaker_name=names.get(row.speaker) if row.speaker else None,
                language=row.language,
                revision=row.revision,
                words=[Word(**word) for word in row.words],
                translations=translations.get(row.segment_id, {}),
            )
            for row in rows
        ],
        speaker_names=names,
    )


async def _read_bounded(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise AudioTooLargeError(f"the upload is {declared} bytes; the limit is {limit}")
    body = bytearray()
    async for part in request.stream():
        body.extend(part)
        if len(body) > limit:
            raise AudioTooLargeError(f"the upload exceeds the limit of {limit} bytes")
    return bytes(body)
