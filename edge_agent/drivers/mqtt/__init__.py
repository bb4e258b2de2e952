"""MQTT sensors driver: subscribe to a local broker and map payloads into readings.

``model``      the source and mapping configuration (declarative, validated)
``jsonmap``    JSON or plain-text payload -> readings through a mapping (paths, templates, timestamps, availability)
``values``     one value -> a reading: numbers as strings become numbers, anything else a decode_error
``protobuf``   the protobuf wire format, read by hand
``sparkplug``  Sparkplug B payloads (alias tables, units, bdSeq, float32 rounding)
``source``     the subscriber: one MQTT session per source, every failing message counted by reason
``mappings/``  shipped mappings (Tasmota, Shelly Gen2, zigbee2mqtt, The Things Stack v3, Sparkplug B)
``samples/``   real-format sample payloads the tests feed through the shipped mappings
"""
