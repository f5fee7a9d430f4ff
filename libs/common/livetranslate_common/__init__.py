"""Code shared by every LiveTranslate service: settings, Avro serde, topic catalogue, logging."""
