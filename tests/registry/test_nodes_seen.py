"""Traffic from many nodes is recorded as liveness in one call, exactly as each node's own status would be."""

from __future__ import annotations

from pathlib import Path

from hub.registry.models import Node
from tests.hub.conftest import FLEET, build_registry


def test_traffic_marks_nodes_online_commissions_claimed_ones_and_never_moves_back(tmp_path: Path) -> None:
    nodes = [{**FLEET["nodes"][0], "id": n} for n in ("N1", "N2", "N3")]  # type: ignore[index]
    _, registry = build_registry(tmp_path, {**FLEET, "nodes": nodes})
    with registry.session() as s, s.begin():
        claimed = s.get(Node, "N2")
        assert claimed is not None
        claimed.status = "claimed"  # handed its credentials, never heard from
    registry.set_node_status("N3", False, 9_000)  # N3's death, seen later than its traffic below
    registry.set_nodes_seen(["N1", "N2", "N3", "GONE"], 5_000)  # a node removed meanwhile is skipped
    registry.set_nodes_seen(["N1"], 4_000)  # an older sighting never moves last_seen back
    got = {n.id: (n.online, n.last_seen_ms, n.status) for n in registry.list_nodes()}
    assert got == {
        "N1": (True, 5_000, "commissioned"),
        "N2": (True, 5_000, "commissioned"),
        "N3": (True, 9_000, "commissioned"),
    }
