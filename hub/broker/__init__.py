"""MQTT broker helpers: the embedded broker for the demo."""
