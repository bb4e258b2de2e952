"""MQTT sensors driver: subscribe to a local broker and map payloads into readings.

``model``      the source and mapping configuration (declarative, validated)
``jsonmap``    JSON payload -> readings through a mapping (paths, units, timestamps)
``sparkplug``  Sparkplug B protobuf payloads (hand-written wire decoder, alias tables)
``source``     the subscriber: one MQTT session per source, malformed payloads counted by reason
``mappings/``  shipped mappings (Tasmota, Shelly Gen2, zigbee2mqtt, The Things Stack v3, Sparkplug B)
``samples/``   real-format sample payloads the tests feed through the shipped mappings
"""
