"""Free loopback ports, readiness waits and process shutdown shared by the servers."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

INSTALL_HINT = "run `python3 scripts/test.py`, which installs mosquitto and influxdb"


class HarnessError(RuntimeError):
    """A test server cannot be found, started or reached."""


_handed_out: set[int] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now and that this run has not handed out.

    The kernel may offer a port again as soon as the probing socket closes; a
    server given that port while another one (not yet listening) holds it
    would fail to start, so each port is handed out once per test run.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port: int = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def find_binary(path: str) -> str:
    """Return ``path`` if it is executable (or its name on PATH); raise with the install hint."""
    if Path(path).is_file():
        return path
    found = shutil.which(Path(path).name)
    if found is None:
        raise HarnessError(f"{path} not found: {INSTALL_HINT}")
    return found


def log_tail(path: Path, lines: int = 30) -> str:
    """Return the last ``lines`` lines of a log file (empty when it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def port_open(host: str, port: int) -> bool:
    """True when a TCP connection to ``host:port`` succeeds."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(proc: subprocess.Popen[bytes], host: str, port: int, deadline_s: float, log: Path) -> None:
    """Wait (bounded) until ``proc`` accepts connections on ``host:port``; raise with the log tail."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HarnessError(f"{proc.args!r} exited with {proc.returncode}; log tail:\n{log_tail(log)}")
        if port_open(host, port):
            return
        time.sleep(0.05)  # a startup wait: polling is the only signal a foreign process gives
    raise HarnessError(f"{proc.args!r} not listening on {host}:{port} after {deadline_s} s; log tail:\n{log_tail(log)}")


def terminate(proc: subprocess.Popen[bytes] | None, grace_s: float = 10.0) -> None:
    """Stop ``proc`` with SIGTERM, then SIGKILL if it has not exited after ``grace_s``."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace_s)
