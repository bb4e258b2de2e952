#!/usr/bin/env python3
"""The one test command: ``python3 scripts/test.py [pytest args...]`` (stdlib only).

1. Install what the integration tests start (Mosquitto and its clients, InfluxDB,
   PostgreSQL, VictoriaMetrics, socat, Chromium and ChromeDriver) with
   apt-get when they are missing and we are root; otherwise say what to install.
2. Stop the system services those packages start on install: the tests start
   their own servers on free ports, and a stray service only holds ports.
3. Create or refresh ``.venv`` (``scripts/bootstrap.py``).
4. Run the checks: ruff check, ruff format --check, mypy, pytest (extra
   arguments go to pytest). Stop at the first failure with its exit code.

``scripts/check`` runs step 4 alone (``--checks-only``) in an existing venv.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file: make scripts.* importable
from scripts.bootstrap import ROOT, ensure_venv, venv_bin

BINARIES = {  # what the tests run -> where Debian puts it (a glob: PostgreSQL's directory carries its version)
    "mosquitto": "/usr/sbin/mosquitto",
    "mosquitto_pub": "/usr/bin/mosquitto_pub",  # the ingest benchmark's broker baseline (mosquitto-clients)
    "influxd": "/usr/bin/influxd",
    "initdb": "/usr/lib/postgresql/*/bin/initdb",
    "victoria-metrics": "/usr/bin/victoria-metrics",
    "socat": "/usr/bin/socat",  # the RTU tests' virtual serial line
    "chromium": "/usr/bin/chromium",  # the web dashboard's browser tests
    "chromedriver": "/usr/bin/chromedriver",
}
APT_PACKAGES = [
    "mosquitto", "mosquitto-clients", "influxdb", "socat", "postgresql", "victoria-metrics",
    "chromium", "chromium-driver",
]  # fmt: skip
# The system service each server package starts on install: the tests run their own instances instead.
SERVICE_OF = {
    "mosquitto": "mosquitto", "influxd": "influxdb", "initdb": "postgresql", "victoria-metrics": "victoria-metrics",
}  # fmt: skip


def missing_binaries() -> list[str]:
    """Return the server binaries that are neither at their Debian path nor on PATH."""
    return [name for name, path in BINARIES.items() if not glob.glob(path) and shutil.which(name) is None]


def run(cmd: list[str], *, env: dict[str, str] | None = None) -> int:
    """Print and run one command in the repository root; return its exit code."""
    print(f"==> {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def install_servers() -> None:
    """Install the missing server packages with apt-get (root only), then stop the services they started."""
    missing = missing_binaries()
    if not missing:
        return
    if os.geteuid() != 0:
        print(
            f"missing: {', '.join(missing)}. Install them (as root) with:\n"
            f"  apt-get update && apt-get install -y --no-install-recommends {' '.join(APT_PACKAGES)}\n"
            "then run python3 scripts/test.py again.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES]):
        if run(cmd, env=env) != 0:
            raise SystemExit(f"{' '.join(cmd)} failed")
    # Stop (and keep from starting at boot) only the services this install brought: a server that was
    # already there, e.g. the machine's own PostgreSQL, is left alone.
    for service in (SERVICE_OF[name] for name in missing if name in SERVICE_OF):
        run(["service", service, "stop"])
        if shutil.which("systemctl"):
            run(["systemctl", "disable", service])
        elif shutil.which("update-rc.d"):
            run(["update-rc.d", service, "disable"])
    if still := missing_binaries():
        raise SystemExit(f"still missing after apt-get install: {', '.join(still)}")


def checks(venv: Path, pytest_args: list[str]) -> int:
    """Run lint, format check, type check and tests; return the first non-zero exit code."""
    steps = [
        [str(venv_bin(venv, "ruff")), "check", "."],
        [str(venv_bin(venv, "ruff")), "format", "--check", "."],
        [str(venv_bin(venv, "mypy"))],
        [str(venv_bin(venv, "pytest")), "-q", *pytest_args],
    ]
    for cmd in steps:
        if code := run(cmd):
            print(f"FAILED ({code}): {' '.join(cmd)}", file=sys.stderr, flush=True)
            return code
    print("==> all checks passed", flush=True)
    return 0


def main(argv: list[str]) -> int:
    """Set up what is missing (unless ``--checks-only``), then run the checks."""
    if argv[:1] == ["--checks-only"]:
        venv = ROOT / ".venv"
        if not venv_bin(venv, "python").exists():
            print("no .venv yet: run python3 scripts/test.py once", file=sys.stderr)
            return 2
        return checks(venv, argv[1:])
    install_servers()
    return checks(ensure_venv(ROOT), argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
