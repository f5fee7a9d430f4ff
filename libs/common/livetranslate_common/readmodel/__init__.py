"""The PostgreSQL read model: migrations, projections written from events, queries."""
