"""Accounts, tokens, provisioning and the audit log on a live PostgreSQL (not only on SQLite)."""

from __future__ import annotations

import pytest

from citysense.nodekinds import default_node_kind_dir, load_node_kinds
from citysense.profiles import load_profiles
from citysense.profiles.loader import default_profile_dir
from hub.registry.access import Access, AuthError
from hub.registry.fleet import Fleet
from hub.registry.provision import ClaimError, Provisioning
from hub.registry.service import NodeFilter, Registry
from tests.harness.postgres import PostgresServer

FLEET = {
    "regions": [
        {"code": "440981", "name": "Gaozhou", "level": "city"},
        {"code": "440981103", "name": "Town", "level": "town", "parent": "440981"},
    ],
    "departments": [{"id": "water", "name": "Water"}],
}


def test_provisioning_and_access_on_postgres(postgres: PostgresServer) -> None:
    profiles = load_profiles(default_profile_dir())
    kinds = load_node_kinds(default_node_kind_dir(), set(profiles))
    reg = Registry(postgres.url)
    try:
        reg.migrate()
        reg.apply_fleet(Fleet.model_validate(FLEET), kinds, profiles)
        access = Access(reg)
        access.upsert_user("test", "pg.tech", "technician", region_scope="440981103", password="pw")
        token = access.login("pg.tech", "pw")
        who = access.authenticate(token)
        assert who.regions == frozenset({"440981103"})

        prov = Provisioning(reg, kinds)
        _, code = prov.create_placeholder("test", "GZ-WG-0800", "water_gauge", "440981103")
        endpoints = {"rs485": {"host": "10.0.0.8", "port": 502}}
        node, creds = prov.claim(who, code, latitude=21.9, longitude=110.8, site="WG-0800", endpoints=endpoints)
        assert node.status == "claimed" and creds.generation == 1
        with pytest.raises(ClaimError):
            prov.claim(who, code, latitude=21.9, longitude=110.8, site="WG-0800", endpoints=endpoints)
        reg.set_node_status("GZ-WG-0800", True, 1_800_000_000_000)  # the birth message (ms beyond 2**31)
        assert reg.get_node("GZ-WG-0800").status == "commissioned"
        assert [n.id for n in reg.list_nodes(NodeFilter(status="commissioned", within_regions=who.regions))] == [
            "GZ-WG-0800"
        ]
        actions = [e.action for e in access.audit_log("GZ-WG-0800")]
        assert actions == ["node.create", "node.claim"]
        access.revoke_token("pg.tech", who.token_id or "")
        with pytest.raises(AuthError):
            access.authenticate(token)
    finally:
        reg.engine.dispose()
