"""Run a command's main coroutine until it ends or Ctrl-C, with the project's log format."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def run_until_interrupted(main: Coroutine[Any, Any, None], log_level: str | int = "INFO") -> int:
    """Configure logging, run ``main``, treat Ctrl-C as a clean stop; return the exit code 0."""
    logging.basicConfig(level=log_level, format=LOG_FORMAT)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main)
    return 0
