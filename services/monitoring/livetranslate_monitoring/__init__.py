"""The monitoring service's analytics: a Faust app of its own reading audio-results.

``python -m livetranslate_monitoring worker`` counts every live run's final segments into
changelog-backed windowed tables (talk time and words per speaker, latency histograms, per
session and window) and serves them on its web port under ``/analytics/...``; the gateway
passes them on under ``/api/analytics/...``.
"""
