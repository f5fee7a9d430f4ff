"""Freeze the current envelope schema as a released version.

Usage::

    uv run python -m livetranslate_schemas.release v2            # write released/v2/envelope.avsc
    uv run python -m livetranslate_schemas.release v1 --check    # exit 1 unless v1 is released

A release is the fully expanded envelope schema (``envelope_schema_json()``) written to
``schemas/released/<version>/envelope.avsc``. Released files are immutable: data written
with them may sit on a topic for years, so the serde keeps decoding it (by fingerprint) and
the evolution tests check that every later schema can read it. Cut a release whenever a
changed schema reaches a shared environment, and raise ``SCHEMA_VERSION`` with it.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from livetranslate_schemas import envelope_schema_json, released_dir

_VERSION = re.compile(r"v[1-9][0-9]*")


def release_path(version: str, root: Path | None = None) -> Path:
    """Where the released envelope schema of ``version`` lives."""
    if not _VERSION.fullmatch(version):
        msg = f"release names look like v1, v2, ...; got {version!r}"
        raise ValueError(msg)
    return (root or released_dir()) / version / "envelope.avsc"


def release(version: str, root: Path | None = None) -> Path:
    """Write the current envelope schema as ``version``; refuses to change an existing one."""
    path = release_path(version, root)
    current = envelope_schema_json()
    if path.exists():
        if path.read_text(encoding="utf-8") != current:
            msg = f"{path} exists and differs from the current schema; releases are immutable"
            raise FileExistsError(msg)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(current, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="Freeze the current envelope schema.")
    parser.add_argument("version", help="release name: v1, v2, ...")
    parser.add_argument("--check", action="store_true", help="only check that it exists")
    args = parser.parse_args(argv)
    path = release_path(args.version)
    if args.check:
        if not path.exists():
            print(f"{path} does not exist")
            return 1
        same = path.read_text(encoding="utf-8") == envelope_schema_json()
        print(f"{path} exists ({'same as' if same else 'differs from'} the current schema)")
        return 0
    try:
        print(f"released {release(args.version)}")
    except FileExistsError as exc:
        print(exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
