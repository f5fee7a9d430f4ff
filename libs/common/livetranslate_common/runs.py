"""Processing runs: every result names the run that produced it.

Live processing of a session is the run ``live``; each reprocessing of its recorded audio is a
run of its own (``rp-`` and 12 hex digits), so their results stand side by side.
"""

from __future__ import annotations

import re
import uuid

LIVE_RUN = "live"
RUN_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_RUN_ID = re.compile(RUN_ID_PATTERN)


def new_run_id() -> str:
    return f"rp-{uuid.uuid4().hex[:12]}"


def check_run_id(run_id: str) -> str:
    """``run_id`` if it may name a new reprocessing run; ValueError otherwise."""
    if not _RUN_ID.match(run_id):
        msg = f"a run id is 1-64 letters, digits, '.', '_' or '-'; got {run_id!r}"
        raise ValueError(msg)
    if run_id == LIVE_RUN:
        msg = f"{LIVE_RUN!r} is the live run's id; a reprocessing run needs its own"
        raise ValueError(msg)
    return run_id
