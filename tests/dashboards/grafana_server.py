"""A local HTTP server answering the Grafana HTTP API calls that ``dashboards.push`` makes.

Grafana itself cannot run here; this speaks its documented request and reply
shapes (Grafana HTTP API: Dashboard, Folder and Data source APIs) for:
``GET/POST /api/folders``, ``GET/POST/PUT /api/datasources[/uid/<uid>]`` and
``POST /api/dashboards/db``, with Grafana's status codes (401 without a valid
token, 404 for unknown uids, 400 for a dashboard without a title, 412 for a
changed dashboard without ``overwrite``).
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class GrafanaState:
    """What the fake Grafana holds, for the test to inspect."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.dashboards: dict[str, dict[str, Any]] = {}  # uid -> {"dashboard", "folderUid", "version"}
        self.folders: dict[str, str] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str]] = []


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "dashboard"


class _Handler(BaseHTTPRequestHandler):
    state: GrafanaState

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length", "0"))
        return json.loads(self.rfile.read(length) or b"{}")

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {self.state.token}":
            self._reply(401, {"message": "invalid API key"})
            return False
        return True

    def _route(self, method: str) -> None:
        self.state.calls.append((method, self.path))
        if not self._authorised():
            return None
        st = self.state
        if m := re.fullmatch(r"/api/folders/([^/]+)", self.path):
            if method == "GET" and m.group(1) in st.folders:
                return self._reply(200, {"uid": m.group(1), "title": st.folders[m.group(1)]})
            return self._reply(404, {"message": "folder not found"})
        if self.path == "/api/folders" and method == "POST":
            body = self._body()
            st.folders[body["uid"]] = body["title"]
            return self._reply(200, {"uid": body["uid"], "title": body["title"], "id": len(st.folders)})
        if m := re.fullmatch(r"/api/datasources/uid/([^/]+)", self.path):
            uid = m.group(1)
            if uid not in st.datasources:
                return self._reply(404, {"message": "Data source not found"})
            if method == "GET":
                return self._reply(200, st.datasources[uid])
            if method == "PUT":
                st.datasources[uid] = self._body()
                return self._reply(200, {"message": "Datasource updated", "datasource": st.datasources[uid]})
        if self.path == "/api/datasources" and method == "POST":
            body = self._body()
            st.datasources[body["uid"]] = body
            return self._reply(200, {"message": "Datasource added", "id": len(st.datasources), "name": body["name"]})
        if self.path == "/api/dashboards/db" and method == "POST":
            return self._save_dashboard(self._body())
        return self._reply(404, {"message": "Not found"})

    def _save_dashboard(self, body: dict[str, Any]) -> None:
        st = self.state
        board = body.get("dashboard") or {}
        if not board.get("title"):
            return self._reply(400, {"message": "Dashboard title cannot be empty", "status": "empty-name"})
        folder = body.get("folderUid", "")
        if folder and folder not in st.folders:
            return self._reply(400, {"message": "folder not found", "status": "folder-not-found"})
        uid = board.get("uid") or f"gen{len(st.dashboards)}"
        old = st.dashboards.get(uid)
        if old is not None and not body.get("overwrite") and old["dashboard"] != board:
            return self._reply(
                412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}
            )
        version = (old["version"] + 1) if old else 1
        st.dashboards[uid] = {"dashboard": board, "folderUid": folder, "version": version}
        return self._reply(
            200,
            {
                "id": list(st.dashboards).index(uid) + 1,
                "uid": uid,
                "url": f"/d/{uid}/{_slug(board['title'])}",
                "status": "success",
                "version": version,
                "slug": _slug(board["title"]),
            },
        )

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")


class FakeGrafana:
    """``with FakeGrafana(token) as g:`` serves on ``g.url`` until the block ends."""

    def __init__(self, token: str) -> None:
        self.state = GrafanaState(token)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-grafana", daemon=True)

    def __enter__(self) -> FakeGrafana:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
