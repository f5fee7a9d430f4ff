"""Human names for a session's speaker labels: how a names update changes them."""

from __future__ import annotations

from collections.abc import Mapping


def merge_speaker_names(
    names: Mapping[str, str], changes: Mapping[str, str | None]
) -> dict[str, str]:
    """The mapping after ``changes``: a name sets or replaces a label's name, None removes it.

    Sorted by label, so the same names always produce the same event bytes and table value.
    """
    merged = dict(names)
    for label, name in changes.items():
        if name is None:
            merged.pop(label, None)
        else:
            merged[label] = name
    return dict(sorted(merged.items()))
