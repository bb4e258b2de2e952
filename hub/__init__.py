"""CitySense hub: MQTT ingest, time-series storage, registry and REST API.

Packages::

    ingest     MQTT consumer: validate, dedupe, dead-letter, hand to the store
    store      one Store interface: InfluxDB (HTTP v1 API) or embedded SQLite
    registry   regions, departments, nodes, devices (SQLAlchemy)
    api        FastAPI application, one router per resource
    broker     the embedded MQTT broker for the demo
"""
