"""Claim codes are stored salted and stretched (PBKDF2); codes stored by older hubs (plain SHA-256) still claim."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from hub.registry import claims, secrets
from hub.registry.access import Access
from hub.registry.fleet import Fleet
from hub.registry.models import Node
from hub.registry.names import ReservedName
from hub.registry.provision import ClaimError, Provisioning
from hub.registry.service import Registry

TOWN = "440981103"
FLEET = {
    "regions": [
        {"code": "440981", "name": "Gaozhou", "level": "city"},
        {"code": TOWN, "name": "Town", "level": "town", "parent": "440981"},
    ],
    "departments": [{"id": "water", "name": "Water"}],
}
SITE: dict[str, Any] = {
    "latitude": 21.9,
    "longitude": 110.8,
    "site": "WG",
    "endpoints": {"rs485": {"host": "10.0.0.8", "port": 502}},
}


@pytest.fixture
def prov(tmp_path: Path) -> Iterator[Provisioning]:
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")
    reg.migrate()
    reg.apply_fleet(Fleet.model_validate(FLEET), kinds, profiles)
    Access(reg).upsert_user("test", "tech", "technician", region_scope=TOWN, password="pw")
    yield Provisioning(reg, kinds)
    reg.engine.dispose()


def _stored(prov: Provisioning, node_id: str) -> str:
    with prov.registry.session() as s:
        node = s.get(Node, node_id)
        assert node is not None
        return node.claim_code_hash or ""


def test_claim_codes_are_salted_and_stretched(prov: Provisioning) -> None:
    _, code = prov.create_placeholder("test", "GZ-WG-0001", "water_gauge", TOWN)
    stored = _stored(prov, "GZ-WG-0001")
    tag, scheme, rounds, _salt, _digest = stored.split("$")
    assert (scheme, int(rounds)) == ("pbkdf2", secrets.CLAIM_PBKDF2_ROUNDS)
    assert secrets.sha256(code) not in stored  # no unsalted digest a stolen database could be matched against
    assert secrets.hash_claim_code(code) != secrets.hash_claim_code(code)  # salted: equal codes store differently
    who = Access(prov.registry).authenticate(Access(prov.registry).login("tech", "pw"))
    node, creds = prov.claim(who, code.lower().replace("-", " "), **SITE)  # typed sloppily
    assert node.status == "claimed" and creds.generation == 1 and len(tag) == secrets.CLAIM_TAG_HEX
    with pytest.raises(ClaimError):
        prov.claim(who, code, **SITE)


def test_a_code_stored_by_an_older_hub_still_claims(prov: Provisioning) -> None:
    _, code = prov.create_placeholder("test", "GZ-WG-0002", "water_gauge", TOWN)
    with prov.registry.session() as s, s.begin():
        node = s.get(Node, "GZ-WG-0002")
        assert node is not None
        node.claim_code_hash = secrets.sha256(code)  # how hubs before issue 12 stored it
    who = Access(prov.registry).authenticate(Access(prov.registry).login("tech", "pw"))
    assert prov.claim(who, code, **SITE)[0].status == "claimed"


def test_reserved_names_are_refused_with_a_reason(prov: Provisioning) -> None:
    prov.registry.reserved_names = frozenset({"gateway-account"})
    for name in ("citysense-hub", "DYNSEC-admin", "gateway-account", "Gateway-Account", "a:ctl", "../x"):
        with pytest.raises(ReservedName):
            prov.create_placeholder("test", name, "water_gauge", TOWN)
    prov.create_placeholder("test", "GZ-WG-0003", "water_gauge", TOWN)


def test_a_claim_in_progress_holds_the_node_until_it_goes_stale(prov: Provisioning) -> None:
    """Two technicians with one code: the second is refused while the first waits on the broker; a claim left
    behind by a hub that died frees the node after STALE_CLAIM_MS."""
    _, code = prov.create_placeholder("test", "GZ-WG-0004", "water_gauge", TOWN)
    who = Access(prov.registry).authenticate(Access(prov.registry).login("tech", "pw"))
    first = claims.begin_claim(prov.registry, prov.kinds, who, code, **SITE)
    with pytest.raises(ClaimError):
        claims.begin_claim(prov.registry, prov.kinds, who, code, **SITE)
    abandoned = replace(first, started_ms=first.started_ms - claims.STALE_CLAIM_MS - 1)
    with prov.registry.session() as s, s.begin():  # the hub died over two minutes ago, mid-claim
        node = s.get(Node, "GZ-WG-0004")
        assert node is not None and node.status == "claiming"
        node.claimed_ms = abandoned.started_ms
    second = claims.begin_claim(prov.registry, prov.kinds, who, code, **SITE)
    with pytest.raises(ClaimError):  # the abandoned attempt can no longer record itself
        claims.finish_claim(prov.registry, who, abandoned)
    assert claims.finish_claim(prov.registry, who, second).status == "claimed"
