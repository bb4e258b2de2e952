"""A wrong alerts file or profile rule is refused with the file and the key named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from citysense.errors import ConfigError
from citysense.yamlconf import load_model
from hub.alerts.config import AlertConfig


@pytest.mark.parametrize(
    ("data", "key", "msg"),
    [
        ({"policies": [{"name": "p", "contacts": ["nobody"]}]}, "policies", "unknown contact 'nobody'"),
        ({"channels": {"x": {"type": "fax"}}}, "channels.x", "does not match any of the expected tags"),
        ({"channels": {"w": {"type": "webhook", "url": "http://h"}}}, "channels.w.webhook.secret", "required key"),
        (
            {"region_rules": {"440981": {"rules": [{"id": "r", "kind": "threshold", "metric": "m"}]}}},
            "region_rules.440981.rules.0",
            "exactly one of 'above' or 'below'",
        ),
        ({"tick_s": 0}, "tick_s", "greater than 0"),
        ({"silences": [{"name": "s"}]}, "silences.0", "either 'every' or both"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, data: dict[str, object], key: str, msg: str) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_model(AlertConfig, path)
    text = str(err.value)
    assert "alerts.yaml" in text and key in text and msg in text, text


def test_secrets_never_show(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump({"channels": {"w": {"type": "webhook", "url": "http://h", "secret": "s3cr3t-x"}}}))
    cfg = load_model(AlertConfig, path)
    assert "s3cr3t-x" not in repr(cfg) and "s3cr3t-x" not in cfg.model_dump_json()
