"""Fixtures for the whole suite: real Kafka and PostgreSQL, and synthesised speech."""

from __future__ import annotations

import numpy as np
import pytest

from livetranslate_common.speech_samples import (
    MEETING_SCRIPT,
    FloatSamples,
    SpokenLine,
    conversation,
)

pytest_plugins = ["livetranslate_common.testing.fixtures"]


@pytest.fixture(scope="session")
def meeting_speech() -> tuple[FloatSamples, list[SpokenLine]]:
    """About 30 s of one voice reading the meeting script, with pauses between sentences."""
    return conversation([("piper", line) for line in MEETING_SCRIPT])


@pytest.fixture(scope="session")
def short_speech() -> tuple[FloatSamples, list[SpokenLine]]:
    """Two sentences, for tests that need real speech but not much of it."""
    return conversation([("piper", line) for line in MEETING_SCRIPT[:2]], pause_s=0.8)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
