"""Errors of the notification package.

Exception tree::

    NotifyError                 root of everything hub.notify raises
    ├── DeliveryFailed          a provider refused or could not be reached
    │                           (``retryable`` says whether trying later can help)
    └── ChannelConfigError      a channel is configured in a way that cannot work
"""

from __future__ import annotations


class NotifyError(Exception):
    """Root of the notification errors."""


class DeliveryFailed(NotifyError):
    """One attempt to deliver failed; ``retryable`` is False when retrying cannot help."""

    def __init__(self, message: str, *, retryable: bool, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


class ChannelConfigError(NotifyError):
    """A channel's settings are inconsistent (e.g. an SMS template without a code)."""
