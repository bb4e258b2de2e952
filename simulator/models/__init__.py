"""Value models, chosen by a profile's ``category``; see :mod:`simulator.models.base` for the contract."""

from __future__ import annotations

from simulator.models.ambient import EnvironmentBox, WeatherStation
from simulator.models.base import DeviceState, NeutralModel, Value, ValueModel, Values, complete, neutral_value
from simulator.models.power import CabinetMeter, PoleMeter, StreetLight
from simulator.models.traffic import SignalController
from simulator.models.water import RadarLevel, RainGauge

MODELS: dict[str, ValueModel] = {
    "street_light_controller": StreetLight(),
    "energy_meter": PoleMeter(),
    "energy_meter_3p": CabinetMeter(),
    "environment": EnvironmentBox(),
    "weather_station": WeatherStation(),
    "water_level": RadarLevel(),
    "rain_gauge": RainGauge(),
    "traffic_signal": SignalController(),
}


def model_for(category: str) -> ValueModel:
    """Return the model of ``category``; unknown categories rest at mid-range."""
    return MODELS.get(category, NeutralModel())


__all__ = [
    "MODELS",
    "DeviceState",
    "Value",
    "ValueModel",
    "Values",
    "complete",
    "model_for",
    "neutral_value",
]
