"""Released schemas: immutable snapshots of the expanded envelope schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from livetranslate_schemas import envelope_schema_json, released_envelope_schemas
from livetranslate_schemas.release import release, release_path


def test_v1_is_released() -> None:
    released = released_envelope_schemas()
    assert "v1" in released
    assert list(released) == sorted(released, key=lambda name: int(name[1:]))


def test_release_writes_the_expanded_schema_and_never_changes_it(tmp_path: Path) -> None:
    path = release("v2", root=tmp_path)
    assert path == tmp_path / "v2" / "envelope.avsc"
    assert path.read_text() == envelope_schema_json()
    assert release("v2", root=tmp_path) == path  # same content: a no-op
    path.write_text("{}")
    with pytest.raises(FileExistsError, match="immutable"):
        release("v2", root=tmp_path)


def test_release_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="v1, v2"):
        release_path("1.0", root=tmp_path)
