"""Ingest: MQTT messages from agents into the store, with validation and dead letters."""
