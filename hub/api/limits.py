"""Limits and headers every response of the hub's HTTP server carries.

- Request bodies: at most :data:`MAX_BODY_BYTES` (FastAPI's ``max_body_size``
  refuses a larger ``Content-Length`` with 413 before reading, and stops a
  chunked body once it passes the cap); the CSV imports have their own cap.
- Every request has a deadline (:data:`REQUEST_TIMEOUT_S`): past it the
  handler is cancelled and the caller gets 504.
- Headers (OWASP Secure Headers; CSP Level 3 ``frame-ancestors``): the web UI
  under ``/ui/`` runs only its own scripts and styles and cannot be framed;
  API answers are never sniffed, framed or cached.
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 256 * 1024
REQUEST_TIMEOUT_S = 120.0
_COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their scripts from a CDN: these pages only lose the right to be framed.
DOCS_CSP = "frame-ancestors 'none'"


def headers_for(path: str) -> dict[str, str]:
    """The security headers of a response to ``path``."""
    if path == "/ui" or path.startswith("/ui/"):
        return {**_COMMON, "content-security-policy": UI_CSP}
    if path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        return {**_COMMON, "content-security-policy": DOCS_CSP}
    return {**_COMMON, "content-security-policy": API_CSP, "cache-control": "no-store"}


class Guard:
    """ASGI middleware: security headers on every response, and a deadline on every request."""

    def __init__(self, app: ASGIApp, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(k.encode(), v.encode()) for k, v in headers_for(scope.get("path", "")).items()]
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in have)]
            await send(message)

        try:
            async with asyncio.timeout(self.timeout_s):
                await self.app(scope, receive, send_with_headers)
        except TimeoutError:
            if started:
                raise
            body = json.dumps({"detail": f"the request took longer than {self.timeout_s:g} s"}).encode()
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 504,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
                }
            )
            await send({"type": "http.response.body", "body": body})
