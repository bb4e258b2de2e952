"""Exception tree of the hub.

::

    HubError                    root of every error raised by hub code
    ├── RegistryError           a registry operation is invalid
    │   ├── NotFound            the named region/node/device does not exist
    │   ├── AuthError           token missing, unknown, revoked or expired (hub.registry.access)
    │   ├── ClaimError          claim code/key unknown or used, or out of scope (hub.registry.provision)
    │   └── IncompleteClaim     a claim lacks a connection's address (hub.registry.provision)
    └── BrokerError             the broker cannot start, or refused/ignored a request
        └── CommandTimeout      a node did not answer a command in time (hub.broker.commands)

The store has its own tree (:mod:`hub.store.errors`); declarative file
errors are :class:`citysense.errors.ConfigError`.
"""

from __future__ import annotations


class HubError(Exception):
    """Root of every error raised by the hub."""


class RegistryError(HubError):
    """A registry operation is invalid."""


class NotFound(RegistryError):
    """The named object does not exist."""


class BrokerError(HubError):
    """The embedded broker cannot start."""
