"""The Faust topic objects this app reads and writes, named from the catalogue."""

from __future__ import annotations

from livetranslate_audio_pipeline.app import app, kafka_settings
from livetranslate_common.catalogue import AUDIO_INGEST, AUDIO_RESULTS

audio_ingest = app.topic(kafka_settings.topic(AUDIO_INGEST.name), internal=False)
audio_results = app.topic(kafka_settings.topic(AUDIO_RESULTS.name), internal=False)
