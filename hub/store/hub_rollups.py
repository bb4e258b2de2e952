"""Hub-side downsampling for the v2 write API (InfluxDB 2.x, 3.x, Cloud): they run no continuous queries.

The hub aggregates what it writes itself. A local :class:`SqliteStore` with
rollups (``<data_dir>/rollups.db``, :mod:`hub.store.sqlite_rollups`) is the
aggregator: every batch the hub writes goes into it too, its 1-minute and
1-hour windows are recomputed from the rows it holds (late, repeated and
rewritten readings included), and the windows the batch touched come back as
rollup readings for the caller to write to the rollup buckets. Re-emitting a
window writes the same series and timestamp again, which InfluxDB treats as an
overwrite.

The local copy keeps raw rows only ``late_days`` (how late a reading may come
and still be rolled up) and its rollups a day longer; it survives a hub
restart, so a window continued after a restart is not rolled up from half its
data. Errors are those of :class:`SqliteStore` (:mod:`hub.store.errors`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hub.store.base import StoredReading
from hub.store.retention import RetentionSettings
from hub.store.sqlite import SqliteStore


class HubRollups:
    """The local aggregator of one hub; ``absorb`` returns resolution (m1, h1) -> rollup readings to write."""

    def __init__(self, path: Path | str, late_days: int = 2) -> None:
        if late_days < 1:
            raise ValueError("late_days must be >= 1")
        keep = RetentionSettings(raw_days=late_days, rollup_1m_days=late_days + 1, rollup_1h_days=late_days + 1)
        self.local = SqliteStore(path, retention=keep)

    async def start(self) -> None:
        """Open the local database (kept across restarts)."""
        await self.local.start()

    async def close(self) -> None:
        """Close the local database."""
        await self.local.close()

    async def absorb(self, readings: Sequence[StoredReading]) -> dict[str, list[StoredReading]]:
        """Fold ``readings`` into the local windows; return the windows they touched, per resolution."""
        await self.local.write(readings)
        return await self.local.windows_of(readings)
