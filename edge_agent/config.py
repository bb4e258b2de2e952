"""Load an agent configuration file together with the profiles it names."""

from __future__ import annotations

from pathlib import Path

from citysense.agentconfig import AgentConfig
from citysense.errors import ConfigError
from citysense.profiles import ProfileSet, load_profiles
from citysense.profiles.loader import default_profile_dir
from citysense.yamlconf import read_yaml, validate_data


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
    config = validate_data(AgentConfig, data, path, context={"profiles": set(profiles)})
    return config, profiles
