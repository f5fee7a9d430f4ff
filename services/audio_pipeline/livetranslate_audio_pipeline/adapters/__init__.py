"""Adapters: recognizer backends and the PostgreSQL read model."""
