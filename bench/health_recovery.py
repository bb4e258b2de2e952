"""How fast /api/v1/health sees the broker go and come back, with the hub's default settings.

    python -m bench.health_recovery

Runs a hub (SQLite store) against its own Mosquitto, then: stops the broker,
starts it again, freezes it (SIGSTOP) for 40 s and resumes it (SIGCONT),
polling ``/api/v1/health`` every 0.1 s. Prints seconds from each event to
the change of HTTP status (Markdown, copied into docs/hub-ingest.md).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.agent.support import hub_on  # noqa: E402
from tests.harness import MosquittoServer  # noqa: E402


async def until_status(client: httpx.AsyncClient, code: int, timeout_s: float = 120) -> float:
    """Seconds until /api/v1/health answers ``code``."""
    start = time.perf_counter()
    async with asyncio.timeout(timeout_s):
        while (await client.get("/api/v1/health")).status_code != code:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    return time.perf_counter() - start


async def run() -> list[tuple[str, float]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp, MosquittoServer() as broker:
        async with hub_on(Path(tmp), broker.url) as hub, httpx.AsyncClient(base_url=hub.api_url) as client:
            await until_status(client, 200)
            broker.stop()
            out.append(("broker stopped → 503", await until_status(client, 503)))
            broker.start()
            out.append(("broker started → 200", await until_status(client, 200)))
            pid = broker._proc.pid  # type: ignore[union-attr]
            os.kill(pid, signal.SIGSTOP)
            out.append(("broker frozen (SIGSTOP) → 503", await until_status(client, 503)))
            await asyncio.sleep(max(0.0, 40 - out[-1][1]))
            os.kill(pid, signal.SIGCONT)
            out.append(("broker resumed after 40 s (SIGCONT) → 200", await until_status(client, 200)))
    return out


def main() -> None:
    rows = asyncio.run(run())
    print("| event | seconds until /api/v1/health changed |\n|---|---|")
    for what, s in rows:
        print(f"| {what} | {s:.1f} |")


if __name__ == "__main__":
    main()
