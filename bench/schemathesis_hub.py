"""Schemathesis over every operation of a real hub in production mode, with an admin token and without one.

The hub runs as ``citysense-hub`` would: production settings (no open reads,
a strong bootstrap token and ack secret), the SQLite registry and store on
disk, Mosquitto with dynamic security, the alert engine on. Each operation
gets ``--examples`` generated requests per identity over real HTTP; every
response is checked for a server error (5xx) and against the OpenAPI
document's response schema. Prints one line per failing operation and a
summary; exits 1 when any server error or schema violation was seen.

    PYTHONPATH=. .venv/bin/python bench/schemathesis_hub.py --examples 60

Figures and the command that produced them: docs/security.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from hub.registry.bootstrap import ADMIN
from hub.runtime import running_hub
from tests.api.prodhub import production_settings
from tests.harness.mosquitto import MosquittoServer


@dataclass
class Tally:
    """Requests sent and what went wrong, per operation."""

    requests: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    schema_violations: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)


def _protect(case: schemathesis.Case, token_id: str) -> None:
    """Keep generated requests from revoking or demoting the identity every later request relies on."""
    params = case.path_parameters or {}
    if params.get("token_id") == token_id:
        params["token_id"] = "not-the-admin-token"
    if params.get("user_id") == ADMIN:
        params["user_id"] = "someone-else"


def _both(operation: Any) -> st.SearchStrategy[schemathesis.Case]:
    """Valid requests and invalid ones (wrong types, out-of-range values, missing fields)."""
    return st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))


def _run(schema: Any, headers: dict[str, str], label: str, examples: int, tally: Tally, token_id: str) -> None:
    checks = [not_a_server_error, response_schema_conformance]
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=_both(operation))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def one(case: schemathesis.Case) -> None:
            _protect(case, token_id)
            response = case.call(headers=headers, timeout=30)
            tally.requests += 1
            tally.by_status[response.status_code] += 1
            try:
                case.validate_response(response, checks=checks)
            except Exception as exc:  # schemathesis raises one failure (or a group) per failed check
                text = str(exc)
                key = f"{label} {case.method.upper()} {case.path}"
                if response.status_code >= 500:
                    tally.server_errors[key] += 1
                else:
                    tally.schema_violations[key] += 1
                tally.examples.setdefault(key, f"{response.status_code}: {case.as_curl_command()}\n{text[:600]}")

        one()


async def main(examples: int) -> int:
    with tempfile.TemporaryDirectory(prefix="schemathesis-hub-") as tmp, MosquittoServer(dynsec=True) as broker:
        settings = production_settings(Path(tmp), broker)
        async with running_hub(settings) as hub:
            token = hub.admin_token
            token_id = token.split("_")[1]
            schema = await asyncio.to_thread(schemathesis.openapi.from_url, f"{hub.api_url}/openapi.json")
            tally = Tally()
            started = time.monotonic()
            # Schemathesis' calls are blocking: run them on a thread while the hub serves on this loop.
            work = threading.Thread(
                target=lambda: (
                    _run(schema, {"Authorization": f"Bearer {token}"}, "admin", examples, tally, token_id),
                    _run(schema, {}, "anonymous", examples, tally, token_id),
                ),
                name="schemathesis",
            )
            work.start()
            await asyncio.to_thread(work.join)
            elapsed = time.monotonic() - started
    operations = len(list(schema.get_all_operations()))
    for key, text in sorted(tally.examples.items()):
        print(f"FAIL {key}\n  {text}\n")
    print(f"operations: {operations}, identities: 2 (admin token, none), examples per operation: {examples}")
    print(f"requests: {tally.requests} in {elapsed:.0f} s")
    print(f"status codes: {dict(sorted(tally.by_status.items()))}")
    print(f"server errors: {sum(tally.server_errors.values())} ({len(tally.server_errors)} distinct operations)")
    print(f"schema violations: {sum(tally.schema_violations.values())} ({len(tally.schema_violations)} distinct)")
    return 1 if tally.server_errors or tally.schema_violations else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60, help="generated requests per operation and identity")
    sys.exit(asyncio.run(main(parser.parse_args().examples)))
