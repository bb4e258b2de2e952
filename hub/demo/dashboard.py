"""Give the demo's duty officer a way into the built-in web dashboard (``/ui``).

The token travels in the URL fragment (``/ui/#token=...``): browsers never send
the fragment to the server, so it stays out of access logs; the page moves it
into ``sessionStorage`` and removes it from the address bar.
"""

from __future__ import annotations

import asyncio

from hub.registry.access import Access
from hub.runtime import RunningHub

DUTY_OFFICER = "duty_officer"


def _issue(hub: RunningHub) -> str:
    access = Access(hub.services.registry)
    access.upsert_user("demo", DUTY_OFFICER, "operator", display_name="值班员 Duty officer (demo)")
    _, token = access.issue_token("demo", DUTY_OFFICER, "web dashboard (demo)")
    return token


async def dashboard_login_url(hub: RunningHub) -> str:
    """Create the city-wide duty officer (operator) with a fresh token; return the dashboard URL that logs in."""
    token = await asyncio.to_thread(_issue, hub)
    return f"{hub.api_url}/ui/#token={token}"
