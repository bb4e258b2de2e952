"""Exception tree of the shared core.

::

    CitySenseError                 root of every error raised by citysense
    ├── ConfigError                a declarative file (profile, node kind, agent
    │                              or hub config) is malformed; names file + key
    ├── CodecError                 registers cannot be decoded/encoded as asked
    └── ContractError              an MQTT message violates the wire contract
"""

from __future__ import annotations

from pathlib import Path


class CitySenseError(Exception):
    """Root of every error raised by the citysense packages."""


class ConfigError(CitySenseError):
    """A declarative file is malformed.

    ``problems`` holds one ``(key, message)`` pair per fault, where ``key`` is a
    dotted path into the file (``points.3.type``) so a technician can find it.
    """

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}: {key or '<top level>'}: {msg}" for key, msg in problems]
        super().__init__("\n".join(lines))


class CodecError(CitySenseError):
    """Registers cannot be decoded or a value cannot be encoded as asked."""


class ContractError(CitySenseError):
    """A message does not follow the wire contract; ``reason`` is a short code."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")
