"""Gateway logic without HTTP: decoding uploads, cutting chunks, building events."""
