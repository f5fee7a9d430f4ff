"""The gateway's adapters: Kafka producer and results consumer."""
