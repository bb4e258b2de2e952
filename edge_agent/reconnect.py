"""When to try the hub's broker again: capped exponential back-off with full jitter.

The delay before attempt *n* is drawn uniformly from ``[0, min(max, min * 2**n)]``
("full jitter"), so a city's worth of agents that lost the same 4G cell do not
reconnect in lock-step. A refused login (MQTT 3.1.1 CONNACK 4/5, MQTT 5 0x86/0x87)
will not fix itself by retrying: it waits ``auth_s``, the longest delay, and is
logged as such. The policy is a small state machine so the agent's status and
logs can say what the uplink is doing. :func:`keep_session` runs any of the
agent's sessions (the control channel) with it: one WARNING per outage, retries
at DEBUG, the recovery at INFO.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Awaitable, Callable

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from citysense.runner import check_cancelled

log = logging.getLogger(__name__)
# CONNACK return codes meaning "bad credentials" / "not authorised" (MQTT 3.1.1 §3.2.2.3, MQTT 5 §3.2.2.2).
AUTH_CODES = frozenset({4, 5, 0x86, 0x87})


class LinkState(enum.StrEnum):
    """What the uplink is doing."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKING_OFF = "backing_off"
    AUTH_FAILED = "auth_failed"


class ReconnectPolicy:
    """Tracks the uplink state and hands out the next delay."""

    def __init__(
        self, *, min_s: float = 0.5, max_s: float = 60.0, auth_s: float = 300.0, rng: random.Random | None = None
    ) -> None:
        if not 0 < min_s <= max_s:
            raise ValueError("need 0 < min_s <= max_s")
        self.min_s, self.max_s, self.auth_s = min_s, max_s, max(auth_s, max_s)
        self.state = LinkState.CONNECTING
        self.failures = 0
        self._rng = rng or random.Random()

    def connected(self) -> None:
        """The session is up: the next failure starts from the shortest delay again."""
        self.state = LinkState.CONNECTED
        self.failures = 0

    def failed(self, *, auth: bool = False) -> float:
        """Record a failed or lost session; return how long to wait before the next attempt."""
        self.failures += 1
        if auth:
            self.state = LinkState.AUTH_FAILED
            return self.auth_s
        self.state = LinkState.BACKING_OFF
        cap = min(self.max_s, self.min_s * 2 ** min(self.failures - 1, 32))
        return self._rng.uniform(0, cap)

    def attempting(self) -> None:
        """A connection attempt starts."""
        self.state = LinkState.CONNECTING


def is_auth_failure(rc: object) -> bool:
    """True when a CONNACK code (int or paho ReasonCode) means the credentials were refused."""
    value = getattr(rc, "value", rc)
    return isinstance(value, int) and value in AUTH_CODES


async def keep_session(
    what: str, session: Callable[[ReconnectPolicy], Awaitable[None]], policy: ReconnectPolicy
) -> None:
    """Run ``session`` forever, waiting per ``policy`` after each failure; log one WARNING per outage.

    ``session`` calls ``policy.connected()`` once it is up, which ends the
    outage: the next failure is logged at WARNING again, retries in between
    at DEBUG, and the recovery once at INFO with the outage's length.
    """
    while True:
        check_cancelled()
        policy.attempting()
        try:
            await session(policy)
        except aiomqtt.MqttError as exc:
            auth = isinstance(exc, MqttConnectError) and is_auth_failure(exc.rc)
            first = policy.failures == 0
            delay = policy.failed(auth=auth)
            if auth:
                log.error("%s: broker refused our credentials (%s); retrying in %.0f s", what, exc, delay)  # noqa: TRY400
            elif first:
                log.warning("%s lost (%s); retrying in %.1f s, then with back-off", what, exc, delay)
            else:
                log.debug("%s still down (%s, attempt %d); retry in %.1f s", what, exc, policy.failures, delay)
            await asyncio.sleep(delay)


def note_connected(what: str, policy: ReconnectPolicy) -> None:
    """Tell ``policy`` the session is up; log the recovery once when it ends an outage."""
    if policy.failures:
        log.info("%s back after %d attempts", what, policy.failures)
    policy.connected()
