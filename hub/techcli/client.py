"""The CLI's saved login and its HTTP client.

The login (hub URL and token) is kept in ``~/.config/citysense/cli.json``
(``CITYSENSE_CLI_CONFIG`` overrides the path), readable by its owner only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


class CliError(Exception):
    """A failure to show the user as one line (not logged in, hub refused, cannot connect)."""


def config_path() -> Path:
    """Where the login is saved."""
    env = os.environ.get("CITYSENSE_CLI_CONFIG")
    return Path(env) if env else Path.home() / ".config" / "citysense" / "cli.json"


@dataclass
class Login:
    """A saved login."""

    hub: str
    token: str
    user: str


def save_login(login: Login) -> Path:
    """Write the login file (mode 600)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(login.__dict__))
    return path


def load_login() -> Login:
    """Read the login file, or say how to log in."""
    try:
        return Login(**json.loads(config_path().read_text()))
    except FileNotFoundError:
        raise CliError("not logged in: run `citysense login --hub URL --user NAME`") from None


def _default_factory(base_url: str, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=headers, timeout=60)


# Tests replace this with a client bound to an in-process app.
client_factory: Callable[[str, dict[str, str]], httpx.Client] = _default_factory


def request(method: str, path: str, *, login: Login | None = None, hub: str | None = None, **kw: Any) -> Any:
    """Call the API; return the decoded JSON (None for 204); raise :class:`CliError` on failure."""
    base = hub or (login.hub if login else "")
    headers = {"Authorization": f"Bearer {login.token}"} if login else {}
    try:
        with client_factory(base, headers) as client:
            r = client.request(method, path, **kw)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach the hub at {base}: {exc}") from exc
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text
        raise CliError(f"hub answered {r.status_code}: {detail}")
    return None if r.status_code == 204 else r.json()
