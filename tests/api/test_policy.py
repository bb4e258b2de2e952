"""Every route declares its permission (hub/api/policy.py), except the few that are public on purpose."""

from __future__ import annotations

import re

import pytest
from fastapi import Depends, FastAPI
from fastapi.routing import iter_route_contexts

from hub.api.policy import EVERYONE, PUBLIC, allow, declared
from tests.api.conftest import Api


def test_every_route_declares_a_rule_or_is_public(alerted: Api) -> None:
    assert alerted.app is not None
    routes = list(declared(alerted.app))
    assert len(routes) > 40
    undeclared = sorted(r.path for r, rule in routes if rule is None and r.path not in PUBLIC)
    assert undeclared == []
    # And the public list stays what it says: nothing declared is in it.
    assert sorted(r.path for r, rule in routes if rule is not None and r.path in PUBLIC) == []
    # Nothing bypasses the declarations as a plain route or mount, but the OpenAPI pages and the UI's files.
    others = {getattr(ctx.original_route, "path", "?") for ctx in iter_route_contexts(alerted.app.routes)}
    others -= {r.path for r, _ in routes}
    assert others <= PUBLIC | {"/ui"}


def test_the_check_catches_a_route_without_a_rule() -> None:
    app = FastAPI()

    @app.get("/api/v1/forgotten")
    async def forgotten() -> None: ...

    @app.get("/api/v1/declared")
    async def fine(who: object = Depends(allow("read", EVERYONE, "catalogue"))) -> None: ...

    assert {r.path: rule is not None for r, rule in declared(app)} == {
        "/api/v1/forgotten": False,
        "/api/v1/declared": True,
    }


def test_a_path_scope_needs_its_parameter() -> None:
    with pytest.raises(ValueError, match="path parameter"):
        allow("read a node", EVERYONE, "node")
    with pytest.raises(ValueError, match="path parameter"):
        allow("list", EVERYONE, "list", "node_id")


@pytest.mark.parametrize("open_read", [False, True])
async def test_without_a_token_every_declared_route_answers_401(alerted: Api, open_read: bool) -> None:
    """Production: every declared route needs a token. Development's open reads admit only the rules that say so."""
    assert alerted.app is not None
    alerted.services.open_read = open_read
    got, want = {}, {}
    for route, rule in declared(alerted.app):
        if rule is None:
            continue
        path = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods):
            status = (await alerted.client.request(method, path)).status_code
            got[method, route.path] = status == 401
            want[method, route.path] = not (open_read and rule.anonymous_read)
    assert got == want
