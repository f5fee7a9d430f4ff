"""Test support: ``fixtures`` is a pytest plugin with real Kafka and PostgreSQL fixtures."""
