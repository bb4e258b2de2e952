"""Load an agent configuration file together with the profiles it names."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from citysense.agentconfig import AgentConfig, DeviceConfig
from citysense.errors import ConfigError
from citysense.profiles import ProfileSet, load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.profiles.model import Profile
from citysense.yamlconf import read_yaml, validate_data
from edge_agent.drivers.mqtt.model import Mapping, MqttSource, load_mapping


def load_agent_config(path: Path) -> tuple[AgentConfig, ProfileSet]:
    """Validate ``path`` and every profile its devices use; errors name file and key."""
    data = read_yaml(path)
    profiles_dir = default_profile_dir()
    if isinstance(data, dict) and data.get("profiles_dir"):
        profiles_dir = (path.parent / str(data["profiles_dir"])).resolve()
    try:
        profiles = load_profiles(profiles_dir)
    except ConfigError as exc:
        raise ConfigError(path, [("profiles_dir", str(exc))]) from exc
    context = {"profiles": set(profiles), "meter_profiles": set(profiles.meters)}
    config = validate_data(AgentConfig, data, path, context=context)
    problems = []
    units: dict[tuple[str, int], str] = {}
    for i, dev in enumerate(config.devices):
        other = units.setdefault((dev.connection, dev.unit_id), dev.id)
        if other != dev.id:
            problems.append((f"devices.{i}.unit_id", f"unit {dev.unit_id} on '{dev.connection}' is already '{other}'"))
        metrics = {p.metric for p in profiles[dev.profile].points}
        for metric in dev.report:
            if metric not in metrics:
                known = ", ".join(sorted(metrics))
                problems.append(
                    (f"devices.{i}.report.{metric}", f"profile '{dev.profile}' has no metric '{metric}' ({known})")
                )
    for i, meter in enumerate(config.meters):
        names = {p.metric for p in profiles.meters[meter.profile].points}
        problems.extend(
            (f"meters.{i}.report.{metric}", f"profile '{meter.profile}' has no metric '{metric}'")
            for metric in meter.report
            if metric not in names
        )
    if problems:
        raise ConfigError(path, problems)
    mqtt_sources(config, path)  # validated now so that 'validate' reports its errors too
    return config, profiles


def mqtt_sources(config: AgentConfig, path: Path) -> list[tuple[MqttSource, list[Mapping]]]:
    """Validate the ``mqtt`` entries and load the mappings they name; errors name file and key."""
    out = []
    problems: list[tuple[str, str]] = []
    for i, raw in enumerate(config.mqtt):
        try:
            source = MqttSource.model_validate(raw)
        except ValidationError as exc:
            for e in exc.errors(include_url=False):
                problems.append((".".join(["mqtt", str(i), *(str(p) for p in e["loc"])]), e["msg"]))
            continue
        mappings = list(source.mappings)
        for j, name in enumerate(source.mapping_files):
            try:
                mappings.append(load_mapping(name, path.parent))
            except ConfigError as exc:
                problems.extend((f"mqtt.{i}.mapping_files.{j} ({name}): {k}", m) for k, m in exc.problems)
        out.append((source, mappings))
    if problems:
        raise ConfigError(path, problems)
    return out


def device_profile(profile: Profile, device: DeviceConfig) -> Profile:
    """The profile as this device uses it: the site's wiring, planner limits and report strategies applied."""
    wiring = {
        k: v
        for k, v in {
            "byte_order": device.byte_order,
            "word_order": device.word_order,
            "max_registers_per_request": device.max_registers_per_request,
            "max_gap_registers": device.max_gap_registers,
        }.items()
        if v is not None
    }
    if not wiring and not device.report:
        return profile
    points = [p.model_copy(update={"report": device.report[p.metric]}) if p.metric in device.report else p
              for p in profile.points]  # fmt: skip
    return profile.model_copy(update={"defaults": profile.defaults.model_copy(update=wiring), "points": points})
