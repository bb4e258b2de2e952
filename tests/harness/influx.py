"""A real InfluxDB 1.x server (``influxd``) for tests, with its data in a temp dir.

Stopping and starting again keeps the data and the port, so outage tests can
take the server away under a running store and bring it back.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.harness.ports import HarnessError, find_binary, free_port, log_tail
from tests.harness.server import LocalServer

INFLUXD = "/usr/bin/influxd"


class InfluxServer(LocalServer):
    """One ``influxd`` on 127.0.0.1:<free port> (HTTP) and another free port (RPC), without auth."""

    stop_grace_s = 15.0

    def __init__(
        self,
        *,
        base_dir: Path | None = None,
        binary: str = INFLUXD,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.binary = find_binary(binary)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.rpc_port = free_port()
        self._own_dir = base_dir is None
        self.dir = Path(tempfile.mkdtemp(prefix="influxd-")) if base_dir is None else base_dir
        self.start_timeout_s = start_timeout_s
        self.conf_path = self.dir / "influxdb.conf"
        self.log_path = self.dir / "influxd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the HTTP API (``/ping``, ``/query``, ``/write``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def _config(self) -> str:
        d = self.dir
        return f"""# written by tests.harness.influx
reporting-disabled = true
bind-address = "{self.host}:{self.rpc_port}"

[meta]
  dir = "{d / "meta"}"
  logging-enabled = false

[data]
  dir = "{d / "data"}"
  wal-dir = "{d / "wal"}"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "{self.host}:{self.port}"
  auth-enabled = false
  log-enabled = false

[ifql]
  enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"""

    def _ping(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1.0) as resp:
                return bool(resp.status == 204)
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> None:
        """Start ``influxd`` (again, with the same data); return when ``/ping`` answers 204."""
        if self.running:
            return
        self.conf_path.write_text(self._config())
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.binary, "-config", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise HarnessError(f"influxd exited with {code}; log tail:\n{log_tail(self.log_path)}")
            if self._ping():
                return
            time.sleep(0.05)  # startup wait: /ping is the only readiness signal influxd gives
        self.stop()
        raise HarnessError(
            f"influxd did not answer {self.url}/ping within {self.start_timeout_s} s; "
            f"log tail:\n{log_tail(self.log_path)}",
        )

    def log(self, lines: int = 50) -> str:
        """Return the tail of the server log."""
        return log_tail(self.log_path, lines)
