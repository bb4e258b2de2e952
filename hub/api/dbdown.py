"""Answer 503 (with ``Retry-After``), not 500, while the registry database is unavailable.

Every route that reads tokens, nodes, devices, alarms or dead letters queries
the registry database. While it is away (a restart, a failover) that query
raises one of the errors :func:`hub.registry.outage.db_unavailable` names; the
client is told to retry (RFC 9110 §15.6.4 503 Service Unavailable, §10.2.3
Retry-After) and the hub counts it (``citysense_registry_unavailable_total``)
and logs the first one, then at most one line a minute with the count, not one per request.
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from hub.api.services import HubServices
from hub.registry.outage import brief

log = logging.getLogger(__name__)
RETRY_AFTER_S = 5
LOG_PERIOD_S = 60.0


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    services: HubServices = request.app.state.services
    services.registry_unavailable += 1
    now = time.monotonic()
    if now >= getattr(request.app.state, "registry_log_after", 0.0):
        request.app.state.registry_log_after = now + LOG_PERIOD_S
        total = services.registry_unavailable
        log.warning("api: the registry database is unavailable (%s); answering 503 (%d so far)", brief(exc), total)
    return JSONResponse(
        {"detail": "the registry database is unavailable; retry later"},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def answer_503_when_database_down(app: FastAPI) -> None:
    """Install the handler on ``app`` for the errors a database that is away raises."""
    for kind in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.add_exception_handler(kind, _unavailable)
