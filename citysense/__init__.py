"""Shared core of the CitySense hub and edge agent.

Everything that both sides must agree on lives here and nowhere else:

* :mod:`citysense.contract` -- MQTT topics and the versioned payload schema.
* :mod:`citysense.quality` -- the quality codes every reading carries.
* :mod:`citysense.profiles` -- device profiles (one per sensor model).
* :mod:`citysense.nodekinds` -- node-kind templates (``firmware_configs/``).
* :mod:`citysense.codec` -- pure Modbus register encoders/decoders.
* :mod:`citysense.yamlconf` -- YAML files into strict pydantic models.
"""

__version__ = "0.1.0"
