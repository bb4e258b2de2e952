"""A real VictoriaMetrics single-node server for tests: it implements InfluxDB's ``/api/v2/write``."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from tests.harness.ports import HarnessError, find_binary, free_port, log_tail, wait_port
from tests.harness.server import LocalServer

VICTORIA = "/usr/bin/victoria-metrics"


class VictoriaServer(LocalServer):
    """One ``victoria-metrics`` on 127.0.0.1:<free port> with its data in a temp dir."""

    def __init__(self, *, binary: str = VICTORIA, start_timeout_s: float = 15.0, dedup: bool = False) -> None:
        self.binary = find_binary(binary)
        self.host = "127.0.0.1"
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="victoria-"))
        self.log_path = self.dir / "victoria.log"
        self.start_timeout_s = start_timeout_s
        self.dedup = dedup  # -dedup.minScrapeInterval=1ms: one sample per series and instant, as the hub's store needs
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the HTTP API."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        """Start the server; return when its port accepts connections."""
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    f"-httpListenAddr={self.host}:{self.port}",
                    f"-storageDataPath={self.dir / 'data'}",
                    "-retentionPeriod=100y",
                    "-search.latencyOffset=0s",
                    *(["-dedup.minScrapeInterval=1ms"] if self.dedup else []),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_port(self._proc, self.host, self.port, self.start_timeout_s, self.log_path)
        except HarnessError as exc:
            self.close()
            raise HarnessError(f"{exc}\n{log_tail(self.log_path)}") from None
