"""Replaying the log: what the topics already hold, read again to rebuild or reprocess."""
