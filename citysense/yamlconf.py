"""Load YAML files into strict pydantic models with errors that name file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import pydantic
import yaml

from citysense.errors import ConfigError

M = TypeVar("M", bound=pydantic.BaseModel)

# libyaml's parser when PyYAML was built with it (its wheels are), about ten times faster than the pure-Python one
# with the same safe constructors: a hub or agent start reads every profile, the technician CLI too.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def keyed(key: str, message: str) -> ValueError:
    """Return a ValueError that :func:`errors_of` reports under ``key`` (relative to the model)."""
    return ValueError(f"@{key}: {message}")


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, mapping syntax errors to :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [("", f"cannot read file: {exc.strerror}")]) from exc
    try:
        return yaml.load(text, Loader=_SafeLoader)  # noqa: S506 - a safe loader (C or Python)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, [(where, f"invalid YAML: {problem}")]) from exc


def errors_of(exc: pydantic.ValidationError) -> list[tuple[str, str]]:
    """Turn a pydantic error into ``(dotted key, message)`` pairs."""
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"]
        # Cross-field validators name the offending key as "@dotted.key: message" (see keyed()).
        if err["type"] == "value_error" and msg.startswith("Value error, @"):
            key, _, msg = msg.removeprefix("Value error, @").partition(": ")
            loc.extend(key.split("."))
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check spelling; see the schema in docs/)"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            got = err.get("input")
            if got is not None and not isinstance(got, dict | list):
                msg = f"{msg} (got {got!r})"
        out.append((".".join(loc), msg))
    return out


def validate_data(model: type[M], data: Any, path: Path | str, context: dict[str, Any] | None = None) -> M:
    """Validate already-parsed data against ``model``; errors name ``path``."""
    if data is None:
        raise ConfigError(path, [("", "file is empty")])
    try:
        return model.model_validate(data, context=context)
    except pydantic.ValidationError as exc:
        raise ConfigError(path, errors_of(exc)) from exc


def load_model(model: type[M], path: Path, context: dict[str, Any] | None = None) -> M:
    """Read ``path`` and validate it against ``model``."""
    return validate_data(model, read_yaml(path), path, context)
