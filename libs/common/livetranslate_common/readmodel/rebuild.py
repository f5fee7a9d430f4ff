"""Rebuilding the read model from audio-results, the topic that tells every session's story.

The rebuild empties the read model's tables and projects every event again, in one
transaction: readers see the old rows until it commits and the new ones after, never a
half-built read model. A projector running meanwhile waits for the rows the rebuild holds and
then applies its own events on top; projections are idempotent, so both agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from livetranslate_common.errors import SerdeError
from livetranslate_common.readmodel.projection import (
    STATEMENT_ORDER,
    AnyConnection,
    Statement,
    statement_for,
)
from livetranslate_common.serde import decode_event

# Every table the projections write; the rebuild empties exactly these (not the migrations').
READ_MODEL_TABLES = (
    "sessions",
    "segments",
    "translations",
    "runs",
    "processing_failures",
    "session_speaker_names",
)


@dataclass(slots=True)
class RebuildSummary:
    events: int = 0
    projected: int = 0
    # Event types the read model has no place for (translations, stream irregularities...).
    not_projected: int = 0
    # Messages no schema can read; live, they went to the dead-letter topic instead.
    undecodable: int = 0
    first_undecodable: str | None = None
    seconds: float = 0.0
    by_type: dict[str, int] = field(default_factory=dict)
    # Rows per table before and after: sessions whose events the topic no longer keeps
    # (past its retention) are not in the rebuilt read model, and this shows it.
    rows_before: dict[str, int] = field(default_factory=dict)
    rows_after: dict[str, int] = field(default_factory=dict)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


# Events whose writes go to the database together. Within a batch the writes are grouped by
# statement (STATEMENT_ORDER): a session's row comes before the updates of it, and each kind
# keeps the log's order, which is all the projections' rules depend on.
BATCH_EVENTS = 2000


class _Batch:
    def __init__(self) -> None:
        self._rows: dict[str, list[tuple[object, ...]]] = {sql: [] for sql in STATEMENT_ORDER}
        # Per segment row, the write that outranks the batch's others: the SQL would apply
        # them one after another and end with this one, so only it is sent (most of a live
        # log's events are partial revisions a final then replaces).
        self._ranked: dict[tuple[str, str, str], Statement] = {}

    def add(self, statement: Statement) -> None:
        if statement.row_key is None:
            self._rows[statement.sql].append(statement.params)
            return
        best = self._ranked.get(statement.row_key)
        if best is None or statement.rank > best.rank:
            self._ranked[statement.row_key] = statement

    async def write(self, conn: AnyConnection) -> None:
        for statement in self._ranked.values():
            self._rows[statement.sql].append(statement.params)
        self._ranked.clear()
        async with conn.cursor() as cursor:
            for sql, rows in self._rows.items():
                if rows:
                    # executemany pipelines the rows: no round trip per row.
                    await cursor.executemany(sql, rows)
                    rows.clear()


async def rebuild_read_model(
    conn: AnyConnection,
    values: Iterable[bytes],
    *,
    on_event: Callable[[], None] | None = None,
) -> RebuildSummary:
    """Replace the read model by the projection of ``values`` (encoded events, in log order).

    ``conn`` must not be inside a transaction; the schema must be migrated already.
    """
    summary = RebuildSummary()
    started = time.perf_counter()
    batch = _Batch()
    async with conn.transaction():
        summary.rows_before = await _row_counts(conn)
        for table in READ_MODEL_TABLES:
            # DELETE, not TRUNCATE: TRUNCATE would lock readers out until the commit.
            await conn.execute(f"DELETE FROM {table}")  # noqa: S608  # constant names
        for value in values:
            summary.events += 1
            try:
                envelope = decode_event(value)
            except SerdeError as error:
                summary.undecodable += 1
                summary.first_undecodable = summary.first_undecodable or str(error)
            else:
                kind = type(envelope.payload).__name__
                summary.by_type[kind] = summary.by_type.get(kind, 0) + 1
                statement = statement_for(envelope)
                if statement is None:
                    summary.not_projected += 1
                else:
                    summary.projected += 1
                    batch.add(statement)
            if summary.events % BATCH_EVENTS == 0:
                await batch.write(conn)
            if on_event is not None:
                on_event()
        await batch.write(conn)
        summary.rows_after = await _row_counts(conn)
    summary.seconds = time.perf_counter() - started
    return summary


async def _row_counts(conn: AnyConnection) -> dict[str, int]:
    counts = {}
    for table in READ_MODEL_TABLES:
        cursor = await conn.execute(f"SELECT count(*) FROM {table}")  # noqa: S608  # constant
        row = await cursor.fetchone()
        counts[table] = int(row[0]) if row else 0  # type: ignore[index]
    return counts
