"""Dependency aliases for route handlers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from hub.api.services import HubServices


def _services(request: Request) -> HubServices:
    services: HubServices = request.app.state.services
    return services


Services = Annotated[HubServices, Depends(_services)]
