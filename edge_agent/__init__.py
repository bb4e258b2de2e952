"""CitySense edge agent: reads field devices and forwards readings to the hub.

Layers, each unaware of the ones above it::

    drivers/modbus   poll devices, decode per profile, emit Readings
    uplink           batch Readings into TelemetryBatch messages over MQTT
    app              wire drivers to the uplink under one TaskGroup
"""
