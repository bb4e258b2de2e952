"""Exception tree of the hub.

::

    HubError                    root of every error raised by hub code
    ├── RegistryError           a registry operation is invalid
    │   ├── NotFound            the named region/node/device does not exist
    │   ├── AuthError           token missing, unknown, revoked or expired (hub.registry.access)
    │   ├── ClaimError          claim code/key unknown or used, or out of scope (hub.registry.claims)
    │   ├── IncompleteClaim     a claim lacks a connection's address (hub.registry.claims)
    │   └── ReservedName        a node id is malformed or names a broker service account (hub.registry.names)
    ├── BrokerError             the broker cannot start, or refused/ignored a request
    │   ├── CommandTimeout      a node did not answer a command in time (hub.broker.commands)
    │   └── AccountConflict     a broker account the hub does not own, or a name the broker forbids (hub.broker.admin)
    └── ProductionRefused       production settings keep a development default (hub.production)

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
    """The broker cannot start, or refused or ignored a request."""


class ProductionRefused(HubError):
    """The hub will not start in production with these settings; ``problems`` name file and key."""

    def __init__(self, problems: list[Exception]) -> None:
        self.problems = problems
        super().__init__("refusing to start in production:\n" + "\n".join(str(p) for p in problems))
