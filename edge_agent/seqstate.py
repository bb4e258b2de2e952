"""The node's batch sequence number, kept on disk so it survives restarts.

The hub drops a batch whose ``(node, seq)`` it has already stored, so a
restarted agent that began again at 0 would have its data dropped as
duplicates. The number is written (atomically, fsync'ed) before the batch
that uses it is published.
"""

from __future__ import annotations

import os
from pathlib import Path


class SeqState:
    """A persistent, monotonically increasing counter."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._next = int(path.read_text().strip() or 0)
        except FileNotFoundError:
            self._next = 0

    def take(self) -> int:
        """Return the next sequence number and persist the one after it."""
        seq = self._next
        self._next += 1
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w") as f:
            f.write(str(self._next))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        return seq
