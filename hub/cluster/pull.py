"""Fetch batches from one durable JetStream pull consumer, with one timer per fetch instead of one task per message.

nats-py's ``PullSubscription.fetch`` waits for each message of a batch with
``next_msg``, which creates a task, a ``wait_for`` timer and a UUID per
message. This speaks the same wire protocol through the client's public
calls only (an inbox subscription with a callback, and a publish), as NATS
ADR-13 ("JetStream Pull Subscribe") describes it: a request
``{"batch": n, "no_wait": true}`` to
``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`` returns what the consumer
has at once, ended by a status message (``404 No Messages`` or ``408 Request
Timeout``) when that is less than ``n``; with nothing there, a lingering
request ``{"batch": n, "expires": <ns>}`` waits for messages until it
expires (``408``). ``409`` (a leadership change, the consumer deleted or its
limits reached) ends a request too. Messages keep their reply subject, so
``Msg.ack`` acknowledges them as usual.

The callback keeps every delivered message in the puller's buffer, in
delivery order; a fetch hands out at most ``batch`` of them. A lingering
request returns with its first message, and whatever else it brings (or an
earlier request that timed out here brings late) waits in the buffer for
the next fetch. A late status may end a later fetch early: that costs a
round trip, never a message. What the buffer held when the puller closes was
never acknowledged: it is NAKed, so JetStream delivers it to the next owner at
once rather than after the ack wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, Header, StatusCode

_ENDS = {StatusCode.NO_MESSAGES.value, StatusCode.REQUEST_TIMEOUT.value, StatusCode.CONFLICT.value}
_SLACK_S = 1.0  # beyond the request's expiry: the server's 408 is on its way


def status_of(msg: Msg) -> str | None:
    """The JetStream status code a message carries (``"404"``...), ``None`` for a stream message."""
    return None if msg.headers is None else msg.headers.get(Header.STATUS.value)


@dataclass
class Puller:
    """Fetches from ``<stream>.<consumer>`` into an inbox subscription of its own."""

    nc: NatsClient
    stream: str
    consumer: str
    _sub: Subscription | None = None
    _buf: list[Msg] = field(default_factory=list)  # delivered, not yet handed out by fetch
    _want: int = 0
    _ended: asyncio.Event = field(default_factory=asyncio.Event)  # the request in flight is full or ended
    _error: Exception | None = None

    async def open(self) -> None:
        """Subscribe the inbox (the consumer must exist)."""
        self._sub = await self.nc.subscribe(self.nc.new_inbox(), cb=self._deliver)

    async def close(self) -> None:
        """Unsubscribe, and hand back what was delivered and not handed out (see :meth:`release`)."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await sub.unsubscribe()
        held, self._buf = self._buf, []
        await release(held)

    async def _deliver(self, msg: Msg) -> None:
        """The inbox's callback (one call per message, in order, from the subscription's own task)."""
        status = status_of(msg)
        if status is None:
            self._buf.append(msg)
            if len(self._buf) >= self._want:
                self._ended.set()
        elif status in _ENDS:
            self._ended.set()
        elif status != StatusCode.CONTROL_MESSAGE.value:
            try:
                nats.js.errors.APIError.from_msg(msg)
            except nats.js.errors.APIError as exc:
                self._error = exc
            self._ended.set()

    async def fetch(self, batch: int, wait_s: float) -> list[Msg]:
        """Up to ``batch`` messages: what is there at once, else the first to come within ``wait_s``.

        Raises ``TimeoutError`` when nothing came, :class:`nats.js.errors.APIError`
        for a status that is not the end of a request.
        """
        if self._sub is None:
            raise nats.errors.Error("puller is not open")
        if len(self._buf) < batch:
            await self._request(batch, {"batch": batch - len(self._buf), "no_wait": True}, wait_s + _SLACK_S)
        if not self._buf:  # returns with the first message: the rest of that request lands in the buffer for the next
            await self._request(1, {"batch": batch, "expires": int(wait_s * 1e9)}, wait_s + _SLACK_S)
        if not self._buf:
            raise TimeoutError(f"{self.stream}.{self.consumer}: nothing within {wait_s} s")
        out, self._buf = self._buf[:batch], self._buf[batch:]
        return out

    async def _request(self, want: int, body: dict[str, object], within_s: float) -> None:
        """Send one pull request; return once ``want`` messages are in hand, it ended, or ``within_s`` passed."""
        assert self._sub is not None
        self._want, self._error = want, None
        self._ended.clear()
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}"
        await self.nc.publish(subject, json.dumps(body).encode(), reply=self._sub.subject)
        with contextlib.suppress(TimeoutError):  # what came is returned; the rest is taken by the next fetch
            async with asyncio.timeout(within_s):
                await self._ended.wait()
        if self._error is not None:
            raise self._error


async def release(msgs: list[Msg]) -> None:
    """NAK messages this worker will not handle, so JetStream delivers them to the next owner now.

    Without it they wait out the consumer's ack wait. Best effort: a NAK that
    does not arrive (the connection gone) leaves them to the ack wait as before.
    """
    for m in msgs:
        with contextlib.suppress(nats.errors.Error):
            await m.nak()


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    """Create the durable consumer unless it exists (an existing one keeps its configuration, as nats-py's does)."""
    assert config.durable_name is not None
    try:
        await js.consumer_info(stream, config.durable_name)
    except nats.js.errors.NotFoundError:
        await js.add_consumer(stream, config=config)
