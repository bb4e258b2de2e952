#!/usr/bin/env python3
"""The demo command: ``python3 scripts/demo.py [--port N] [--nodes-per-kind 1|2]`` (stdlib only).

Creates or refreshes ``.venv`` (``scripts/bootstrap.py``), then runs
``citysense-demo``: the hub on embedded defaults (amqtt broker, SQLite store),
a simulated fleet of Modbus devices and one edge agent per simulated node.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a file: make scripts.* importable
from scripts.bootstrap import ROOT, ensure_venv, venv_bin


def main() -> None:
    """Bootstrap the venv and replace this process with the demo."""
    venv = ensure_venv(ROOT)
    demo = str(venv_bin(venv, "citysense-demo"))
    os.chdir(ROOT)
    os.execv(demo, [demo, *sys.argv[1:]])


if __name__ == "__main__":
    main()
