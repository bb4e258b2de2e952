"""Errors of the alert engine.

Exception tree::

    AlertError                  root of everything hub.alerts raises
    ├── AlarmNotFound           no alarm (or silence) with that id
    ├── AlarmStateError         the change is not allowed in the alarm's state
    │                           (acknowledging a cleared alarm, twice...)
    ├── BadAckLink              an acknowledge link is forged or expired
    └── AlertsFenced            a province worker wrote a partition's alert state
                                under a fencing token that is no longer the partition's
"""

from __future__ import annotations


class AlertError(Exception):
    """Root of the alert errors."""


class AlarmNotFound(AlertError):
    """No alarm (or silence) with that id."""


class AlarmStateError(AlertError):
    """The requested change does not fit the alarm's state."""


class BadAckLink(AlertError):
    """The acknowledge link's signature does not match or it has expired."""


class AlertsFenced(AlertError):
    """A newer owner sealed the partition: this worker's token no longer lets it write the partition's alerts."""

    def __init__(self, partition: int, token: int, stored: int | None) -> None:
        super().__init__(f"partition {partition}: token {token} is fenced (the partition's token is {stored})")
        self.partition = partition
