"""Login throttling: exponential back-off per user name and per client address, kept in the registry.

After ``free`` failures in a row a key is refused for 1 s, then 2 s, 4 s, ...
up to ``CAP_S``; while refused, no password is checked at all (so the right
password does not get in either, and an attacker learns nothing). A success
clears the user's count; a key quiet for ``FORGET_S`` starts afresh. The
state is in the registry's ``login_failures`` table, so it holds across
restarts and across hub workers sharing one registry (GB/T 22239-2019
8.1.4.1 b: "login failure handling ... limit illegal login attempts").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hub.registry.accounts import LoginFailure
from hub.registry.service import Registry

BASE_S = 1.0
CAP_S = 900.0
FORGET_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Key:
    """One throttled identity and the failures it may have before back-off starts."""

    name: str
    free: int

    @staticmethod
    def user(name: str) -> Key:
        return Key(f"user:{name[:64]}", 5)

    @staticmethod
    def address(addr: str) -> Key:
        return Key(f"addr:{addr[:90]}", 20)  # higher: people behind one NAT share it


def backoff_s(failures: int, free: int) -> float:
    """Seconds refused after ``failures`` consecutive failures (0 while still free)."""
    if failures < free:
        return 0.0
    return min(BASE_S * 2.0 ** min(failures - free, 30), CAP_S)


class LoginThrottle:
    """Back-off bookkeeping for :func:`hub.api.routes.access.login`."""

    def __init__(self, registry: Registry, clock: Callable[[], float] = time.time) -> None:
        self.registry = registry
        self.clock = clock

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def wait_s(self, keys: Sequence[Key]) -> float:
        """Seconds until any of ``keys`` may try again (0: now)."""
        now = self._now_ms()
        with self.registry.session() as s:
            rows = [s.get(LoginFailure, k.name) for k in keys]
        return max((max(r.blocked_until_ms - now, 0) / 1000 for r in rows if r is not None), default=0.0)

    def failed(self, keys: Sequence[Key]) -> None:
        """Count one failure against each key and set its back-off."""
        now = self._now_ms()
        with self.registry.session() as s, s.begin():
            for k in keys:
                row = s.get(LoginFailure, k.name)
                if row is None:
                    row = LoginFailure(key=k.name, failures=0, last_ms=now, blocked_until_ms=0)
                    s.add(row)
                if now - row.last_ms > FORGET_S * 1000:
                    row.failures = 0
                row.failures += 1
                row.last_ms = now
                row.blocked_until_ms = now + int(backoff_s(row.failures, k.free) * 1000)

    def succeeded(self, key: Key) -> None:
        """Forget the failures of ``key`` after a correct password."""
        with self.registry.session() as s, s.begin():
            row = s.get(LoginFailure, key.name)
            if row is not None:
                s.delete(row)
