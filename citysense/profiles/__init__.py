"""Device profiles: one YAML file per sensor model, under ``device_profiles/``."""

from citysense.profiles.loader import ProfileSet, load_profile, load_profiles
from citysense.profiles.model import Point, Profile, Table

__all__ = ["Point", "Profile", "ProfileSet", "Table", "load_profile", "load_profiles"]
