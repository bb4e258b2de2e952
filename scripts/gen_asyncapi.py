"""Write docs/asyncapi.yaml from the contract module: ``python -m scripts.gen_asyncapi``."""

from __future__ import annotations

from pathlib import Path

import yaml

from citysense.asyncapi import build

OUT = Path(__file__).resolve().parents[1] / "docs" / "asyncapi.yaml"

if __name__ == "__main__":
    OUT.write_text(yaml.safe_dump(build(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    print(f"wrote {OUT}")
