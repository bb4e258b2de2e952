"""InfluxDB back end against failures: server stopped, server silent, HTTP errors."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from citysense.quality import Quality
from hub.store.base import StoredReading
from hub.store.errors import StoreRejected, StoreUnavailable
from hub.store.influx_v1 import InfluxV1Store
from tests.harness import InfluxServer

T0 = 1_767_225_600_000


def rd(metric: str, value: float | str | None, ts_ms: int = T0) -> StoredReading:
    return StoredReading(
        node="n1",
        device="n1.dev",
        profile="p",
        metric=metric,
        value=value,
        unit="",
        ts_ms=ts_ms,
        quality=Quality.GOOD,
    )


async def test_unavailable_while_stopped_then_recovers(influx_fresh: InfluxServer) -> None:
    store = InfluxV1Store(influx_fresh.url, "outage", timeout_s=5.0)
    await store.start()
    try:
        await store.write([rd("a", 1.0)])
        influx_fresh.stop()
        with pytest.raises(StoreUnavailable):
            await store.write([rd("a", 2.0, T0 + 1)])
        with pytest.raises(StoreUnavailable):
            await store.query_range("n1.dev", "p", None, T0, T0 + 10)
        with pytest.raises(StoreUnavailable):
            await store.latest([("n1.dev", "p")])
        influx_fresh.start()
        await store.write([rd("a", 2.0, T0 + 1)])
        got = await store.query_range("n1.dev", "p", None, T0, T0 + 10)
        assert [r.value for r in got] == [1.0, 2.0]
    finally:
        await store.close()


async def test_start_fails_unavailable_when_nothing_listens(influx_fresh: InfluxServer) -> None:
    influx_fresh.stop()
    store = InfluxV1Store(influx_fresh.url, "x", timeout_s=2.0)
    with pytest.raises(StoreUnavailable):
        await store.start()
    await store.close()


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    for w in held:
        w.close()
    server.close()
    await server.wait_closed()


async def test_unavailable_after_timeout_when_server_is_silent(silent_server: str) -> None:
    store = InfluxV1Store(silent_server, "x", timeout_s=0.3)
    loop = asyncio.get_running_loop()
    t = loop.time()
    with pytest.raises(StoreUnavailable):
        await store.write([rd("a", 1.0)])
    assert loop.time() - t < 2.0
    await store.close()


async def test_field_type_conflict_is_rejected_and_other_batches_still_written(influx: InfluxServer) -> None:
    store = InfluxV1Store(influx.url, "conflict", batch_lines=1)
    await store.start()
    try:
        await store.write([rd("a", 1.0)])
        with pytest.raises(StoreRejected) as err:
            await store.write([rd("a", "text", T0 + 1), rd("a", 3.0, T0 + 2)])
        assert err.value.status == 400
        got = await store.query_range("n1.dev", "p", None, T0, T0 + 10)
        assert [r.value for r in got] == [1.0, 3.0]
    finally:
        await store.close()


def mock_store(handler: Callable[[httpx.Request], httpx.Response], *, gzip: bool = False) -> InfluxV1Store:
    return InfluxV1Store("http://influx.test", "db", transport=httpx.MockTransport(handler), gzip=gzip)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, StoreUnavailable),
        (503, StoreUnavailable),
        (429, StoreUnavailable),
        (408, StoreUnavailable),
        (400, StoreRejected),
        (401, StoreRejected),
        (413, StoreRejected),
    ],
)
async def test_http_status_mapping(status: int, error: type[Exception]) -> None:
    store = mock_store(lambda _: httpx.Response(status, json={"error": "boom"}))
    with pytest.raises(error, match="boom"):
        await store.write([rd("a", 1.0)])
    with pytest.raises(error):
        await store.query_range("n1.dev", "p", None, T0, T0 + 1)
    await store.close()


async def test_statement_error_is_rejected() -> None:
    store = mock_store(lambda _: httpx.Response(200, json={"results": [{"statement_id": 0, "error": "bad q"}]}))
    with pytest.raises(StoreRejected, match="bad q"):
        await store.query_range("n1.dev", "p", None, T0, T0 + 1)
    await store.close()


async def test_write_recreates_a_dropped_database_once() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/write":
            assert "content-encoding" not in request.headers  # plain line protocol unless gzip is set
            if seen.count("/write") == 1:
                return httpx.Response(404, json={"error": 'database not found: "db"'})
            return httpx.Response(204)
        return httpx.Response(200, json={"results": [{"statement_id": 0}]})

    store = mock_store(handler)
    await store.write([rd("a", 1.0)])
    assert seen == ["/write", "/query", "/write"]
    await store.close()


async def test_basic_auth_and_retention_policy_are_sent() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204)

    store = InfluxV1Store(
        "http://influx.test",
        "db",
        username="u",
        password="token",
        retention_policy="autogen",
        transport=httpx.MockTransport(handler),
        create_database=False,
    )
    await store.start()
    await store.write([rd("a", 1.0)])
    assert requests[0].url.path == "/ping"
    assert requests[1].url.params["rp"] == "autogen"
    assert requests[1].headers["authorization"].startswith("Basic ")
    await store.close()


async def test_gzip_bodies_are_stored_like_plain_ones(influx: InfluxServer) -> None:
    plain = InfluxV1Store(influx.url, "plain_bodies", gzip=False)
    packed = InfluxV1Store(influx.url, "gzip_bodies")  # gzip is the default
    for store in (plain, packed):
        await store.start()
        await store.write([rd("a", 1.5), rd("b", 2.5)])
    got = [await s.query_range("n1.dev", "p", None, T0 - 1, T0 + 10_000) for s in (plain, packed)]
    assert got[0] == got[1] and [r.value for r in got[1]] == [1.5, 2.5]
    for store in (plain, packed):
        await store.close()


async def test_gzip_sends_compressed_line_protocol() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-encoding"] == "gzip"
        bodies.append(gzip.decompress(request.content))
        return httpx.Response(204)

    store = mock_store(handler, gzip=True)
    await store.write([rd("a", 1.0)])
    assert bodies == [b"p,device=n1.dev,node=n1 a=1.0,a__q=0i 1767225600000"]
    await store.close()
