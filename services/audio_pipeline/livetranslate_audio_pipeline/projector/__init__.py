"""The read-model projector: its own Faust app and process, audio-results -> PostgreSQL.

It runs apart from the transcribing workers, in its own consumer group: a slow or unreachable
database then delays the read model only, never transcription (in one Faust app, a stalled
projector's full stream buffer would stop the whole worker's fetching).

    python -m livetranslate_audio_pipeline.projector worker
"""
