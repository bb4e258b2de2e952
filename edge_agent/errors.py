"""Exception tree of the edge agent.

::

    AgentError                  root of every error raised by edge_agent
    ├── ModbusError             a Modbus request failed; ``quality`` says how
    ├── MeterError              a DL/T 645 request failed; ``quality`` says how
    ├── WriteRefused            a write was not sent: point not writable, value out of range
    ├── ReadBackMismatch        a write was accepted but reads back differently
    ├── ReadBackFailed          a write was sent and acknowledged, but reading it back failed
    └── UplinkError             the hub's broker cannot be reached or refused us

Configuration errors are :class:`citysense.errors.ConfigError`.
"""

from __future__ import annotations

from citysense.quality import Quality


class AgentError(Exception):
    """Root of every error raised by the edge agent."""


class ModbusError(AgentError):
    """A Modbus request failed; ``quality`` is the code its points get."""

    def __init__(self, quality: Quality, detail: str, exception_code: int | None = None) -> None:
        self.quality = quality
        self.detail = detail
        self.exception_code = exception_code
        super().__init__(f"{quality.wire}: {detail}")


class MeterError(AgentError):
    """A DL/T 645 request failed; ``quality`` is the code its points get, ``error`` the meter's error byte."""

    def __init__(self, quality: Quality, detail: str, error: int | None = None) -> None:
        self.quality = quality
        self.detail = detail
        self.error = error
        super().__init__(f"{quality.wire}: {detail}")


class UplinkError(AgentError):
    """The hub's broker cannot be reached or refused the agent."""


class WriteRefused(AgentError):
    """The write was not sent: the point is not writable or the value does not fit it."""


class ReadBackMismatch(AgentError):
    """The device accepted the write but reads back a different value."""


class ReadBackFailed(AgentError):
    """The device acknowledged the write, but the read-back request failed: the value is written, unconfirmed."""
