"""Load device profiles from a directory of YAML files."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

from citysense.errors import ConfigError
from citysense.profiles.dlt645 import MeterProfile, as_device_profile
from citysense.profiles.model import Profile
from citysense.yamlconf import load_model, read_yaml

log = logging.getLogger(__name__)
_LOOKS_LIKE = {"kind": "a node kind", "node_id": "an agent configuration", "topic": "an MQTT mapping",
               "regions": "a fleet file"}  # fmt: skip


def not_a_profile(path: Path) -> str | None:
    """Why the YAML file at ``path`` is not a device profile at all, or None when it claims to be one.

    A profile has ``points`` (or at least ``model``); a file with neither, such as a
    node kind or an agent configuration left in the directory, is not one.
    """
    data = read_yaml(path)
    if isinstance(data, dict) and ("points" in data or "model" in data):
        return None
    hint = next(
        (f"; it looks like {what}" for key, what in _LOOKS_LIKE.items() if isinstance(data, dict) and key in data), ""
    )
    return f"not a device profile (no 'points' or 'model' key{hint})"


def load_profile(path: Path) -> Profile:
    """Load and validate one profile file; the file stem must equal its ``id``."""
    why = not_a_profile(path)
    if why is not None:
        raise ConfigError(path, [("", why)])
    profile = load_model(Profile, path)
    if profile.id != path.stem:
        raise ConfigError(path, [("id", f"'{profile.id}' must equal the file name '{path.stem}'")])
    return profile


def load_meter_profile(path: Path) -> MeterProfile:
    """Load and validate one DL/T 645 meter profile (``protocol: dlt645``); the file stem must equal its ``id``."""
    profile = load_model(MeterProfile, path)
    if profile.id != path.stem:
        raise ConfigError(path, [("id", f"'{profile.id}' must equal the file name '{path.stem}'")])
    return profile


class ProfileSet(Mapping[str, Profile]):
    """Modbus profiles by id; DL/T 645 meter profiles by id in ``meters``; ``skipped`` lists the files of the
    directory that are not profiles, with why."""

    def __init__(
        self,
        profiles: dict[str, Profile],
        meters: dict[str, MeterProfile] | None = None,
        skipped: list[tuple[Path, str]] | None = None,
    ) -> None:
        self._profiles = profiles
        self.meters = meters or {}
        self.skipped = skipped or []

    def ids(self) -> set[str]:
        """Every profile id, Modbus and DL/T 645 (what node kinds may name)."""
        return set(self._profiles) | set(self.meters)

    def with_meters(self) -> ProfileSet:
        """This set with each DL/T 645 meter profile also as a device profile (the hub validates by those)."""
        extra = {k: as_device_profile(v) for k, v in self.meters.items() if k not in self._profiles}
        return ProfileSet({**self._profiles, **extra}, self.meters, self.skipped)

    def __getitem__(self, key: str) -> Profile:
        return self._profiles[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._profiles)

    def __len__(self) -> int:
        return len(self._profiles)


def load_profiles(directory: Path) -> ProfileSet:
    """Load every ``*.yaml`` in ``directory``; all errors are reported together.

    A YAML file that is not a profile at all (:func:`not_a_profile`) is skipped
    with a warning rather than reported as a broken profile.
    """
    if not directory.is_dir():
        raise ConfigError(directory, [("", "profile directory does not exist")])
    profiles: dict[str, Profile] = {}
    meters: dict[str, MeterProfile] = {}
    problems: list[tuple[str, str]] = []
    skipped: list[tuple[Path, str]] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            why = not_a_profile(path)
            if why is not None:
                log.warning("%s: %s; skipped", path, why)
                skipped.append((path, why))
                continue
            data = read_yaml(path)
            if isinstance(data, dict) and data.get("protocol") == "dlt645":
                meters[path.stem] = load_meter_profile(path)
            else:
                profiles[path.stem] = load_profile(path)
        except ConfigError as exc:
            problems.extend((f"{path.name}: {k}" if k else path.name, m) for k, m in exc.problems)
    if problems:
        raise ConfigError(directory, problems)
    return ProfileSet(profiles, meters, skipped)


def default_profile_dir() -> Path:
    """The ``device_profiles/`` directory shipped with the project (inside the package when installed from a wheel)."""
    packaged = Path(__file__).resolve().parents[1] / "device_profiles"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "device_profiles"
