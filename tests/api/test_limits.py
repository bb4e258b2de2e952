"""Every request has a size and a range: body caps, login throttling, equal work, headers, 4xx for bad input."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hub.alerts.acklink import make_link
from hub.api.limits import MAX_BODY_BYTES, Guard
from hub.api.routes.imports import MAX_BYTES
from hub.registry.accounts import LoginFailure
from hub.registry.throttle import FORGET_S, Key, LoginThrottle, backoff_s
from tests.api.conftest import ACK_SECRET, T1, Api

HUGE = 200_000_000


async def _asgi_post(
    api: Api, path: str, chunks: Callable[[], Any], headers: list[tuple[bytes, bytes]]
) -> tuple[int, int]:
    """POST a body fed chunk by chunk straight to the app; return the status and how many bytes it pulled."""
    pulled = 0
    status = 0
    source = chunks()

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(source, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("10.0.0.9", 5),
        "server": ("hub", 80),
        "headers": [(b"host", b"hub"), (b"content-type", b"application/json"), *headers],
    }
    assert api.app is not None
    await api.app(scope, receive, send)
    return status, pulled


async def test_a_200_mb_login_is_refused_before_it_is_read(api: Api) -> None:
    def body() -> Any:
        yield b'{"username": "admin", "password": "'
        while True:
            yield b"x" * 65536

    status, pulled = await _asgi_post(api, "/api/v1/auth/login", body, [(b"content-length", str(HUGE).encode())])
    assert status == 413 and pulled < 1_000_000
    # Without a Content-Length (chunked) the body is cut off once it passes the cap.
    status, pulled = await _asgi_post(api, "/api/v1/auth/login", body, [])
    assert status == 413 and pulled <= MAX_BODY_BYTES + 2 * 65536


async def test_the_csv_import_streams_under_its_own_cap(api: Api) -> None:
    h = {**api.auth("admin"), "Content-Type": "text/csv"}
    note = "n" * 1000  # a column the import does not use, to make the file big
    csv = "node,device,unit_id,note\n" + "".join(f"W1,level,{i % 247 + 1},{note}\n" for i in range(300))
    assert MAX_BODY_BYTES < len(csv) < MAX_BYTES  # bigger than any JSON body may be, still a valid import
    r = await api.client.post("/api/v1/devices/import", content=csv.encode(), headers=h)
    assert r.status_code == 200 and r.json()["created"] == 300

    def too_big() -> Any:
        yield b"id,kind,region\n"
        while True:
            yield b"X,water_gauge,440981103\n" * 4096

    auth = [(b"authorization", api.auth("admin")["Authorization"].encode())]
    status, pulled = await _asgi_post(api, "/api/v1/nodes/import", too_big, auth)
    assert status == 413 and pulled <= MAX_BYTES + 200_000


async def _login(api: Api, user: str, password: str, client: httpx.AsyncClient | None = None) -> int:
    c = client or api.client
    return (await c.post("/api/v1/auth/login", json={"username": user, "password": password})).status_code


async def test_thirty_wrong_passwords_then_the_right_one_stays_out(api: Api) -> None:
    codes = [await _login(api, "tech_t1", f"guess-{i}") for i in range(30)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    r = await api.client.post("/api/v1/auth/login", json={"username": "tech_t1", "password": "tech_t1-pw"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    # Other users are not locked out by it.
    assert await _login(api, "viewer_t2", "viewer_t2-pw") == 200
    # Once the back-off has passed, the right password gets in and clears the count.
    with api.registry.session() as s, s.begin():
        s.execute(update(LoginFailure).values(blocked_until_ms=0))
    assert await _login(api, "tech_t1", "tech_t1-pw") == 200
    assert await _login(api, "tech_t1", "wrong") == 401


async def test_one_address_guessing_many_users_is_slowed_down(api: Api) -> None:
    assert api.app is not None
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app, client=("10.9.9.9", 1)), base_url="http://hub")
    codes = [await _login(api, f"nobody-{i}", "pw") for i in range(22)]
    assert codes[:20] == [401] * 20 and codes[-1] == 429
    assert await _login(api, "admin", "admin-pw") == 429  # from the same address
    async with other:
        assert await _login(api, "admin", "admin-pw", other) == 200


async def test_unknown_users_cost_the_same_work_off_the_event_loop(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    real = hashlib.pbkdf2_hmac
    seen: list[tuple[int, str]] = []

    def spy(name: str, password: bytes, salt: bytes, rounds: int, dklen: int | None = None) -> bytes:
        seen.append((rounds, threading.current_thread().name))
        return real(name, password, salt, rounds, dklen)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", spy)
    assert await _login(api, "admin", "wrong-password") == 401
    known = list(seen)
    seen.clear()
    assert await _login(api, "no-such-user", "wrong-password") == 401
    assert [r for r, _ in seen] == [r for r, _ in known] and len(known) == 1
    assert all(t.startswith("password-hash") for _, t in known + seen)


async def test_ui_and_api_send_security_headers(api: Api) -> None:
    ui = await api.client.get("/ui/")
    assert ui.status_code == 200
    csp = ui.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert ui.headers["x-frame-options"] == "DENY" and ui.headers["x-content-type-options"] == "nosniff"
    body = await api.client.get("/api/v1/nodes", headers=api.auth("admin"))
    assert body.headers["x-content-type-options"] == "nosniff" and body.headers["cache-control"] == "no-store"


async def test_the_ack_page_escapes_what_it_echoes(alerted: Api) -> None:
    by = "<script>alert(document.domain)</script>"
    link = make_link("http://hub", ACK_SECRET, 1, by, 2**40)
    r = await alerted.client.get(link.removeprefix("http://hub"))
    assert r.status_code == 404  # no alarm 1 in this fixture, but the page is answered and checked all the same
    forged = await alerted.client.get("/api/v1/alarms/1/ack-link", params={"exp": 2**40, "by": by, "sig": "签名"})
    assert forged.status_code == 403
    for page in (r, forged):
        assert "<script" not in page.text
        assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all
    named = await alerted.client.get("/api/v1/alarms/1/ack-link", params={"exp": 1, "by": by, "sig": "x"})
    assert "<script" not in named.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/alarms/9223372036854775808", None),
        ("GET", "/api/v1/alarms?limit=99999999999999999999999", None),
        ("GET", "/api/v1/notifications?alarm=9223372036854775808", None),
        ("DELETE", "/api/v1/silences/9223372036854775808", None),
        ("POST", "/api/v1/silences", {"match": {}, "ends_ms": 2**64}),
        ("GET", "/api/v1/alarms/1/ack-link?exp=99999999999999999999&by=x&sig=x", None),
        ("POST", "/api/v1/nodes/W1/commands", {"action": "probe", "device": "../../etc"}),
        ("POST", "/api/v1/nodes/W1/commands", {"action": "write", "device": "rain", "metric": "x", "value": 2**70}),
        ("GET", "/api/v1/readings?start_ms=99999999999999999999", None),
    ],
)
async def test_bad_numbers_and_names_answer_4xx_with_a_reason(alerted: Api, method: str, path: str, body: Any) -> None:
    r = await alerted.client.request(method, path, json=body, headers=alerted.auth("admin"))
    assert r.status_code in (400, 422) and r.json()["detail"]


async def test_a_config_push_to_a_placeholder_without_endpoints_is_refused(api: Api) -> None:
    body = {"id": "BARE-1", "kind": "water_gauge", "region": T1}
    assert (await api.client.post("/api/v1/nodes", json=body, headers=api.auth("admin"))).status_code == 201
    r = await api.client.post("/api/v1/nodes/BARE-1/config", headers=api.auth("admin"))
    assert r.status_code == 409 and "endpoint" in r.json()["detail"]


def test_the_back_off_doubles_up_to_its_cap_and_is_forgotten_after_a_quiet_day(api: Api) -> None:
    assert [backoff_s(n, 5) for n in (4, 5, 6, 7, 14, 40)] == [0, 1, 2, 4, 512, 900]
    now = [1_000_000.0]
    throttle = LoginThrottle(api.registry, clock=lambda: now[0])
    key = [Key.user("someone")]
    for _ in range(7):
        throttle.failed(key)
    assert throttle.wait_s(key) == 4.0
    now[0] += 4.0
    assert throttle.wait_s(key) == 0.0  # the back-off has passed: one more try
    throttle.failed(key)
    assert throttle.wait_s(key) == 8.0
    now[0] += FORGET_S + 1
    throttle.failed(key)  # counted afresh: the first failure of a new day is free
    assert throttle.wait_s(key) == 0.0


async def test_a_request_past_its_deadline_answers_504() -> None:
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(30)

    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=Guard(slow, timeout_s=0.05)), base_url="http://hub")
    async with client:
        r = await client.get("/api/v1/readings")
    assert r.status_code == 504 and "longer than" in r.json()["detail"]
    assert r.headers["x-content-type-options"] == "nosniff"
