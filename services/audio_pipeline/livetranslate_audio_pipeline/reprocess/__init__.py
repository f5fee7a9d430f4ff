"""The reprocessing worker: runs sessions' recorded audio again, as runs of their own.

A Faust app of its own (``python -m livetranslate_audio_pipeline.reprocess worker``): it reads
requests from audio-reprocess, the requested session's audio from audio-ingest, and publishes
the run's results and RunProgress reports on audio-results. Long runs never hold up live
sessions, which another app (the pipeline worker) serves.
"""
