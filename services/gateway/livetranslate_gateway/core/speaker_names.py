"""Checking human names for speaker labels before anything is published.

The same rules hold for names given at a session's creation and for renames later; only a
rename may remove a name (null). Names are stripped; a name is shown wherever the transcript
is, so it must be printable on one line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from livetranslate_gateway.core.errors import InvalidSpeakerNamesError

MAX_SPEAKER_NAMES = 32
MAX_NAME_LENGTH = 80
# The pipeline's labels: SPEAKER_00, SPEAKER_01, ... (three digits past a hundred speakers).
SPEAKER_LABEL_PATTERN = r"^SPEAKER_[0-9]{2,3}$"
# Matched whole (fullmatch): ``$`` alone would let a trailing newline through.
_LABEL = re.compile(r"SPEAKER_[0-9]{2,3}")
# Control characters, lone surrogates (not encodable as UTF-8, so not as Avro strings) and
# line or paragraph separators. Format characters stay: names need joiners and direction marks.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})


def speaker_names_at_creation(names: Mapping[str, str | None]) -> dict[str, str]:
    """The names a new session starts with; raises InvalidSpeakerNamesError."""
    checked = _checked(names, allow_removal=False)
    return {label: name for label, name in checked.items() if name is not None}


def speaker_name_changes(names: Mapping[str, str | None]) -> dict[str, str | None]:
    """A rename's changes (None removes a label's name); raises InvalidSpeakerNamesError."""
    if not names:
        raise InvalidSpeakerNamesError("name at least one speaker label")
    return _checked(names, allow_removal=True)


def _checked(names: Mapping[str, str | None], *, allow_removal: bool) -> dict[str, str | None]:
    if len(names) > MAX_SPEAKER_NAMES:
        raise InvalidSpeakerNamesError(
            f"{len(names)} speaker names; at most {MAX_SPEAKER_NAMES} at a time"
        )
    checked: dict[str, str | None] = {}
    for label, name in names.items():
        if not _LABEL.fullmatch(label):
            raise InvalidSpeakerNamesError(
                f"{label[:40]!r} is not a speaker label (SPEAKER_ and 2 or 3 digits)"
            )
        if name is None and not allow_removal:
            raise InvalidSpeakerNamesError(f"{label}: a name is required here, not null")
        checked[label] = None if name is None else _checked_name(label, name)
    return dict(sorted(checked.items()))


def _checked_name(label: str, name: str) -> str:
    stripped = name.strip()
    if not 1 <= len(stripped) <= MAX_NAME_LENGTH:
        raise InvalidSpeakerNamesError(
            f"{label}: a name has 1 to {MAX_NAME_LENGTH} characters (without surrounding"
            f" spaces), not {len(stripped)}"
        )
    bad = next((c for c in stripped if unicodedata.category(c) in _FORBIDDEN_CATEGORIES), None)
    if bad is not None:
        raise InvalidSpeakerNamesError(f"{label}: the name contains U+{ord(bad):04X}")
    return stripped
