"""LiveTranslate gateway: the REST and WebSocket surface clients talk to."""
