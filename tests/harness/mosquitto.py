"""A real Mosquitto broker for tests, configured so that slow QoS 1 subscribers lose nothing.

Mosquitto's default ``max_queued_messages`` (1000) drops QoS 1 messages queued
for a subscriber that falls behind (docs/ARCHITECTURE "Facts"); the harness
raises the per-client queue far above any test's flood and lifts the byte
limit, so a lost message in a test is a bug in our code, not the broker's
configuration.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.harness.ports import HarnessError, find_binary, free_port, log_tail, wait_port
from tests.harness.server import LocalServer

MOSQUITTO = "/usr/sbin/mosquitto"
DYNSEC_PLUGIN = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"
DYNSEC_ADMIN = ("dynsec-admin", "dynsec-admin-test-password")


@dataclass(frozen=True)
class TlsListener:
    """A second listener speaking TLS (MQTT over TLS, port 8883 in production)."""

    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = True

    def config(self, host: str) -> str:
        """Mosquitto configuration lines of this listener."""
        return (
            f"listener {self.port} {host}\n"
            f"cafile {self.ca_file}\ncertfile {self.cert_file}\nkeyfile {self.key_file}\n"
            f"require_certificate {'true' if self.require_certificate else 'false'}\n"
        )


class MosquittoServer(LocalServer):
    """One ``mosquitto`` process on 127.0.0.1:<free port> with its data in a temp dir."""

    def __init__(
        self,
        *,
        port: int | None = None,
        base_dir: Path | None = None,
        password_file: Path | None = None,
        max_queued_messages: int = 1_000_000,
        max_inflight_messages: int = 100,
        binary: str = MOSQUITTO,
        start_timeout_s: float = 10.0,
        dynsec: bool = False,
        tls: TlsListener | None = None,
    ) -> None:
        self.binary = find_binary(binary)
        self.host = "127.0.0.1"
        self.port = port if port is not None else free_port()
        self._own_dir = base_dir is None
        self.dir = Path(tempfile.mkdtemp(prefix="mosquitto-")) if base_dir is None else base_dir
        self.password_file = password_file
        self.max_queued_messages = max_queued_messages
        self.max_inflight_messages = max_inflight_messages
        self.start_timeout_s = start_timeout_s
        self.log_path = self.dir / "mosquitto.log"
        self.stderr_path = self.dir / "stderr.log"
        self.conf_path = self.dir / "mosquitto.conf"
        self._proc: subprocess.Popen[bytes] | None = None
        # Dynamic security: clients and ACLs managed at run time over $CONTROL; DYNSEC_ADMIN administers it.
        self.dynsec_file = self.dir / "dynamic-security.json" if dynsec else None
        self.tls = tls

    @property
    def url(self) -> str:
        """``mqtt://host:port`` of the listener."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def _config(self) -> str:
        data = self.dir / "data"
        data.mkdir(parents=True, exist_ok=True)
        auth = (
            f"allow_anonymous false\npassword_file {self.password_file}\n"
            if self.password_file is not None
            else "allow_anonymous true\n"
        )
        if self.dynsec_file is not None:
            if not self.dynsec_file.exists():
                ctrl = find_binary("/usr/bin/mosquitto_ctrl")
                subprocess.run(
                    [ctrl, "dynsec", "init", str(self.dynsec_file), *DYNSEC_ADMIN], capture_output=True, check=True
                )
            plugin = find_binary(DYNSEC_PLUGIN)
            auth = f"allow_anonymous false\nplugin {plugin}\nplugin_opt_config_file {self.dynsec_file}\n"
        return (
            f"# written by tests.harness.mosquitto\n"
            # As root, mosquitto would switch to user "mosquitto", which cannot write our temp dir.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            f"per_listener_settings false\n"
            f"listener {self.port} {self.host}\n"
            f"{self.tls.config(self.host) if self.tls else ''}"
            f"{auth}"
            f"persistence true\n"
            f"persistence_location {data}/\n"
            f"max_queued_messages {self.max_queued_messages}\n"
            f"max_queued_bytes 0\n"
            f"max_inflight_messages {self.max_inflight_messages}\n"
            f"log_dest file {self.log_path}\n"
            f"log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            f"connection_messages true\n"
            f"log_timestamp_format %Y-%m-%dT%H:%M:%S\n"
        )

    def start(self) -> None:
        """Write the config and start the broker; return when its port accepts connections."""
        if self.running:
            return
        self.conf_path.write_text(self._config())
        with self.stderr_path.open("ab") as err:
            self._proc = subprocess.Popen(
                [self.binary, "-c", str(self.conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_port(self._proc, self.host, self.port, self.start_timeout_s, self.log_path)
        except HarnessError as exc:
            self.stop()
            raise HarnessError(f"{exc}\nstderr:\n{log_tail(self.stderr_path)}") from None

    def kill(self) -> None:
        """SIGKILL the broker (a crash, an OOM kill, a power cut): it saves nothing it holds in memory."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)
        self._proc = None

    def restart(self) -> None:
        """Stop and start again on the same port with the same persistence."""
        self.stop()
        self.start()

    def log(self, lines: int = 50) -> str:
        """Return the tail of the broker log."""
        return log_tail(self.log_path, lines)
