"""Logins against a real production-mode hub: do they stall other requests, and do they reveal user names?

Two ratios, each against a baseline measured in the same run:

- ``/api/v1/health`` latency while 16 logins run in parallel, over its
  latency when the hub is idle (the audit saw 1.9 s under load);
- the time of a wrong password for an unknown user name over that for a
  known one (the audit saw 81 ms vs 236 ms: a user-name oracle).

Throttling would turn repeated wrong logins into fast 429s, so every login
here uses a fresh user name, and the bench clears the address's count
between rounds (all requests come from 127.0.0.1).

    PYTHONPATH=. .venv/bin/python bench/login_timing.py --rounds 5

Figures and command: docs/security.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import delete

from hub.registry.access import Access
from hub.registry.accounts import LoginFailure
from hub.registry.service import Registry
from hub.runtime import running_hub
from tests.api.prodhub import production_settings
from tests.harness.mosquitto import MosquittoServer

PARALLEL = 16


def _forget_failures(registry: Registry) -> None:
    with registry.session() as s, s.begin():
        s.execute(delete(LoginFailure))


async def _timed(c: httpx.AsyncClient, method: str, url: str, **kw: object) -> float:
    t0 = time.perf_counter()
    await c.request(method, url, **kw)  # type: ignore[arg-type]
    return time.perf_counter() - t0


async def _health_under(c: httpx.AsyncClient, users: list[str]) -> float:
    """Median /health latency while ``users`` log in with wrong passwords, all at once."""
    logins = [
        asyncio.create_task(c.post("/api/v1/auth/login", json={"username": u, "password": "wrong-password"}))
        for u in users
    ]
    await asyncio.sleep(0.01)
    samples = [await _timed(c, "GET", "/api/v1/health") for _ in range(5)]
    await asyncio.gather(*logins)
    return statistics.median(samples)


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="login-timing-") as tmp, MosquittoServer(dynsec=True) as broker:
        async with running_hub(production_settings(Path(tmp), broker)) as hub:
            access = Access(hub.services.registry)
            names = [f"user{i:03d}" for i in range(rounds * (PARALLEL + 2))]
            for n in names:
                await asyncio.to_thread(lambda n=n: access.upsert_user("bench", n, "viewer", password=f"{n}-password"))
            async with httpx.AsyncClient(base_url=hub.api_url, timeout=60) as c:
                idle = statistics.median([await _timed(c, "GET", "/api/v1/health") for _ in range(20)])
                loaded, known, unknown = [], [], []
                it = iter(names)
                for r in range(rounds):
                    await asyncio.to_thread(_forget_failures, hub.services.registry)
                    loaded.append(await _health_under(c, [next(it) for _ in range(PARALLEL)]))
                    await asyncio.to_thread(_forget_failures, hub.services.registry)
                    pair = [(known, next(it)), (unknown, f"nobody-{r}")]
                    for into, user in pair if r % 2 else pair[::-1]:  # alternate the order: no bias from it
                        body = {"username": user, "password": "wrong-password"}
                        into.append(await _timed(c, "POST", "/api/v1/auth/login", json=body))
                    next(it)
    health = statistics.median(loaded)
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"/health idle: {idle * 1000:.1f} ms, during {PARALLEL} parallel logins: {health * 1000:.1f} ms")
    print(f"  ratio loaded/idle: {health / idle:.1f}")
    print(f"wrong password, known user: {k * 1000:.1f} ms; unknown user: {u * 1000:.1f} ms")
    print(f"  ratio unknown/known: {u / k:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
