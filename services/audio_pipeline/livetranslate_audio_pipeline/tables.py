"""Per-session state in changelog-backed Faust tables (co-partitioned with audio-ingest).

A restarted or rebalanced worker gets them back from their changelog topics before it
processes the partition again.
"""

from __future__ import annotations

from livetranslate_audio_pipeline.app import app
from livetranslate_common.catalogue import SESSION_PARTITIONS

# Progress and timing: seq, where the unfinished audio starts in the log, finals published.
session_progress = app.Table(
    "session-progress",
    default=None,
    partitions=SESSION_PARTITIONS,
    # Keys are the session id's bytes (as on audio-ingest); values JSON.
    key_type=bytes,
    help="Per-session progress: next seq, replay offset, finals published.",
)

# Speaker models and stable labels, written only when a final changes them; and the human
# names of the labels, written when a SpeakerNamesUpdated changes them.
session_speakers = app.Table(
    "session-speakers",
    default=None,
    partitions=SESSION_PARTITIONS,
    # Keys are the session id's bytes (as on audio-ingest); values JSON.
    key_type=bytes,
    help="Per-session speaker models (centroids, counts), labels and their names.",
)

# The stream's timing: seqs seen and missing, irregularity counts, client-clock fit.
session_timing = app.Table(
    "session-timing",
    default=None,
    partitions=SESSION_PARTITIONS,
    # Keys are the session id's bytes (as on audio-ingest); values JSON.
    key_type=bytes,
    help="Per-session stream timing: seqs, gaps, duplicates, client-clock offset and drift.",
)
