"""Build the FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from citysense import __version__
from hub.api.routes import access, catalogue, control, devices, imports, nodes, provisioning, system
from hub.api.services import HubServices


def create_app(services: HubServices) -> FastAPI:
    """Return the API bound to ``services``."""
    app = FastAPI(
        title="CitySense hub API",
        version=__version__,
        description="Device registry, latest values and history of the city's sensing devices.",
    )
    app.state.services = services
    app.include_router(imports.router)  # before /nodes/{node_id}: "import" is not a node id
    for module in (nodes, devices, system):
        app.include_router(module.router)
    for module in (access, provisioning, catalogue, control):  # device management (issue 6)
        app.include_router(module.router)
    return app
