"""Build the FastAPI application."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from citysense import __version__
from hub.api.dbdown import answer_503_when_database_down
from hub.api.limits import MAX_BODY_BYTES, Guard
from hub.api.routes import (
    access,
    catalogue,
    control,
    devices,
    imports,
    latest,
    metrics,
    nodes,
    provisioning,
    readings,
    stations,
    system,
    ui,
)
from hub.api.services import HubServices
from hub.registry.secrets import dummy_hash

WEB = Path(__file__).resolve().parent.parent / "web"


def create_app(services: HubServices) -> FastAPI:
    """Return the API bound to ``services``."""
    app = FastAPI(
        title="CitySense hub API",
        version=__version__,
        description="Device registry, latest values and history of the city's sensing devices.",
        max_body_size=MAX_BODY_BYTES,  # 413 before reading a larger body; the CSV imports set their own
    )
    app.add_middleware(Guard)
    answer_503_when_database_down(app)
    dummy_hash()  # computed now, so the first login of an unknown user costs no more than any other
    app.state.services = services
    app.include_router(imports.router)  # before /nodes/{node_id}: "import" is not a node id
    for module in (nodes, devices, system, latest, readings, metrics):
        app.include_router(module.router)
    for module in (access, provisioning, catalogue, control):  # device management (issue 6)
        app.include_router(module.router)
    app.include_router(stations.router)  # dial-in stations (issue 15)
    app.include_router(ui.router)  # the built-in web dashboard (hub/web), served at /ui
    app.mount("/ui", StaticFiles(directory=WEB, html=True), name="ui")
    app.add_api_route("/", lambda: RedirectResponse("/ui/"), include_in_schema=False)
    return app
