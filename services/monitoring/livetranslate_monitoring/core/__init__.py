"""The analytics' arithmetic in plain Python: contributions of final segments, windows,
histograms and reports (tested without Kafka)."""
