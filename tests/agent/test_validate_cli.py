"""``citysense-agent validate`` checks a node's file without connecting, naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.cli import main

CONFIG = """\
node_id: GZ-WG-0001
hub: {url: "mqtt://127.0.0.1:1883"}
connections:
  - {id: rs485, type: modbus_tcp, host: 127.0.0.1, port: 1502}
devices:
  - {id: level, profile: radar_level_rs485, connection: rs485, unit_id: 1}
  - {id: rain, profile: tipping_bucket_rs485, connection: rs485, unit_id: 2}
"""


def _run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "node.yaml"
    path.write_text(text)
    code = main(["validate", "--config", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_valid_config_is_summarised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(tmp_path, CONFIG, capsys)
    assert code == 0
    assert "OK: node GZ-WG-0001, 2 devices, 11 points" in out


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("unit_id: 2", "unit_id: 2, poll_every: 5"), "devices.1.poll_every: unknown key"),
        (("profile: tipping_bucket_rs485", "profile: no_such_gauge"), "devices.1.profile: device 'rain': unknown"),
        (("connection: rs485, unit_id: 2", "connection: rs232, unit_id: 2"), "devices.1.connection: device 'rain'"),
        (("port: 1502", "port: 70000"), "connections.0.port"),
        (("mqtt://127.0.0.1:1883", "http://127.0.0.1"), "hub.url"),
    ],
)
def test_broken_config_names_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], expected: str
) -> None:
    code, out = _run(tmp_path, CONFIG.replace(*change), capsys)
    assert code == 2
    assert f"node.yaml: {expected}" in out, out
