"""Errors of the alert engine.

Exception tree::

    AlertError                  root of everything hub.alerts raises
    ├── AlarmNotFound           no alarm (or silence) with that id
    ├── AlarmStateError         the change is not allowed in the alarm's state
    │                           (acknowledging a cleared alarm, twice...)
    └── BadAckLink              an acknowledge link is forged or expired
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
