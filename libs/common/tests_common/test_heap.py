"""Frozen long-lived objects are left out of garbage collections; garbage is not kept."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from livetranslate_common.heap import freeze_long_lived


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def unfrozen_after() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen_after")
def test_live_objects_are_frozen_and_garbage_is_collected_first() -> None:
    live = _Node()
    garbage = _Node()
    garbage.other = _Node()
    garbage.other.other = garbage  # a cycle: only a collection frees it
    collected = weakref.ref(garbage)
    del garbage
    freeze_long_lived()
    assert gc.get_freeze_count() > 0
    # Collections no longer walk the live object...
    assert all(obj is not live for obj in gc.get_objects())
    # ...and the cycle was collected before the freeze, not kept forever.
    assert collected() is None
    # What is made afterwards is collected as before.
    later = _Node()
    assert any(obj is later for obj in gc.get_objects())
