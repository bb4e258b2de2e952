"""The cluster tier's exception tree."""

from __future__ import annotations

from hub.errors import HubError


class ClusterError(HubError):
    """Base of every error of the cluster tier."""


class Fenced(ClusterError):
    """This worker no longer holds the lease it acted under: it must not write."""
