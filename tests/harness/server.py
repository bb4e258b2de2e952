"""What every server the harness starts shares: a process, a directory, stop/close, use as a context manager."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import pytest

from tests.harness.ports import HarnessError, terminate


class LocalServer:
    """A server process on loopback. ``stop`` keeps its data (for a restart); ``close`` also deletes its directory
    when the harness created it. Subclasses set ``dir`` and ``_own_dir`` and implement :meth:`start`."""

    dir: Path
    _own_dir: bool = True
    stop_grace_s: float = 10.0
    _proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process and wait until it serves."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after ``stop_grace_s``)."""
        terminate(self._proc, grace_s=self.stop_grace_s)
        self._proc = None

    def close(self) -> None:
        """Stop the process and delete its directory if the harness created it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


S = TypeVar("S", bound=LocalServer)


def started(factory: Callable[[], S]) -> S:
    """Start a harness server for a fixture; a missing binary or a failed start FAILS the test (never skips it)."""
    try:
        server = factory()
        server.start()
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)
    return server
