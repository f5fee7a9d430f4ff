"""LiveTranslate audio pipeline: a Faust app from audio-ingest to audio-results."""

PIPELINE_VERSION = "0.1.0"
