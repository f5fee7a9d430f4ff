"""Where the local stack keeps its files."""

from __future__ import annotations

import os
from pathlib import Path

STACK_DIR_ENV = "LIVETRANSLATE_STACK_DIR"


def find_repo_root(start: Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` holding ``uv.lock`` (the workspace root).

    Without ``start``, the current directory is tried first, then this file's location (an
    editable install lives inside the repository).
    """
    starts = [start] if start is not None else [Path.cwd(), Path(__file__).resolve().parent]
    for origin in starts:
        for directory in (origin.resolve(), *origin.resolve().parents):
            if (directory / "uv.lock").is_file():
                return directory
    return None


def default_stack_dir() -> Path:
    """``$LIVETRANSLATE_STACK_DIR``, else ``<repo>/.stack``, else under ``~/.cache``."""
    configured = os.environ.get(STACK_DIR_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    root = find_repo_root()
    if root is not None:
        return root / ".stack"
    return Path.home() / ".cache" / "livetranslate" / "stack"
