#!/usr/bin/env python3
"""Create the project's virtual environment and keep it in step with pyproject.toml (stdlib only).

``ensure_venv(root)`` makes ``<root>/.venv`` with the Python running this
script when it is missing, and runs ``pip install -e ".[dev]"`` whenever
``pyproject.toml`` differs from the one last installed: a SHA-256 of it is kept
in ``.venv/citysense-install.sha256``. Runs before anything is installed, so it
imports nothing outside the standard library.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

MIN_PYTHON = (3, 11)
STAMP_NAME = "citysense-install.sha256"
ROOT = Path(__file__).resolve().parent.parent


def venv_bin(venv: Path, name: str) -> Path:
    """Return the path of executable ``name`` inside ``venv``."""
    return venv / "bin" / name


def pyproject_digest(root: Path) -> str:
    """Return the SHA-256 of ``root/pyproject.toml``."""
    return hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()


def ensure_venv(root: Path = ROOT) -> Path:
    """Return ``root/.venv``, creating it and installing the project (with dev extras) when needed."""
    if sys.version_info < MIN_PYTHON:
        raise SystemExit(f"Python >= {'.'.join(map(str, MIN_PYTHON))} is required, this is {sys.version.split()[0]}")
    venv = root / ".venv"
    python = venv_bin(venv, "python")
    if not python.exists():
        print(f"==> creating {venv} with {sys.executable}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    stamp = venv / STAMP_NAME
    digest = pyproject_digest(root)
    if not stamp.exists() or stamp.read_text().strip() != digest:
        print('==> pip install -e ".[dev]" (pyproject.toml changed since the last install)', flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"], cwd=root, check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", ".[dev]"], cwd=root, check=True)
        stamp.write_text(digest + "\n")
    return venv


def main() -> int:
    """Ensure the venv of this checkout and print its path."""
    print(ensure_venv(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
