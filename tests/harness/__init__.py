"""Real servers for tests: Mosquitto, InfluxDB 1.x and PostgreSQL, each on free loopback ports.

Every server lives in its own temporary directory (config, data, log), is
started with the system binary and is ready when its port answers. A missing
binary raises :class:`HarnessError` naming the command that installs it
(``python3 scripts/test.py``); the fixtures turn that into a failure, never a skip.
"""

from __future__ import annotations

from tests.harness.influx import InfluxServer
from tests.harness.mosquitto import MosquittoServer
from tests.harness.ports import HarnessError, free_port, log_tail, wait_port
from tests.harness.postgres import PostgresServer

__all__ = ["HarnessError", "InfluxServer", "MosquittoServer", "PostgresServer", "free_port", "log_tail", "wait_port"]
