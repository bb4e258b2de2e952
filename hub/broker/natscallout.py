"""The NATS auth callout: every MQTT login to the broker tier is checked here, and scoped.

A NATS server configured with ``authorization { auth_callout { ... } }``
sends each connecting client's credentials, as a server-signed
``authorization_request`` JWT, to ``$SYS.REQ.USER.AUTH`` in the callout's
account, and waits for an ``authorization_response`` signed by the
configured issuer (nats-server server/auth_callout.go). For MQTT clients the
request carries the CONNECT username and password (``connect_opts.user`` and
``.pass``) and the client identifier (``client_info.mqtt_id``).

Each hub process with the NATS back end answers in one queue group, so any
of them may answer and none is needed by all. An answer allows the login only
when the account exists in the store (hub/broker/natsaccounts.py), is
enabled, the password matches its hash and the client id is the one the
account is bound to; the user JWT then allows exactly that account's topics
(hub/broker/acls.py) on MQTT connections only, and expires after
``session_ttl_s``: the server ends the session then and the client logs in
again. A grant cannot be withdrawn earlier; the account store cuts a
revoked node's open sessions through the system account instead
(hub/broker/natskick.py), or they end at that expiry.
Everything else gets a signed refusal. A request that is not a valid
server-signed JWT is dropped (the server refuses the login at its timeout).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import Any

import nats.errors
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg

from hub.broker.acls import nats_permissions
from hub.broker.natsaccounts import NatsAccounts
from hub.broker.natsjwt import AccountKey, BadJwt, decode
from hub.cluster.partitions import PartitionMap
from hub.errors import BrokerError
from hub.registry.secrets import dummy_hash, verify_password

log = logging.getLogger(__name__)
AUTH_SUBJECT = "$SYS.REQ.USER.AUTH"
QUEUE = "citysense-auth-callout"
MAX_REQUEST_BYTES = 64 * 1024  # a request with client TLS chains stays well under this
MAX_USERNAME = 256
MAX_PASSWORD = 1024
CONCURRENCY = 4  # password checks run in threads; more would only queue for the two cores


class Refused(Exception):
    """This login is not allowed; the text goes to the server's log, never to the client."""


class CalloutResponder:
    """Answers the servers' authorization requests from the account store."""

    def __init__(
        self,
        conn: Nats,
        accounts: NatsAccounts,
        key: AccountKey,
        *,
        account: str,
        prefix: str,
        session_ttl_s: float,
        partitions: PartitionMap | None = None,
    ) -> None:
        self.conn, self.accounts, self.key = conn, accounts, key
        self.partitions = partitions
        self.account, self.prefix, self.session_ttl_s = account, prefix, session_ttl_s
        self.counts: Counter[str] = accounts.logins if accounts is not None else Counter()  # for /metrics
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Answer requests until cancelled, at most :data:`CONCURRENCY` at a time."""
        sub = await self.conn.subscribe(AUTH_SUBJECT, queue=QUEUE, pending_msgs_limit=4096)
        self.ready.set()
        slots = asyncio.Semaphore(CONCURRENCY)
        try:
            async with asyncio.TaskGroup() as tg:
                async for msg in sub.messages:
                    await slots.acquire()
                    tg.create_task(self._answer(msg, slots), name="hub:auth-callout-answer")
        finally:
            self.ready.clear()
            try:
                await asyncio.shield(sub.unsubscribe())
            except nats.errors.Error as exc:
                log.debug("auth callout: unsubscribe at stop failed: %r", exc)

    async def _answer(self, msg: Msg, slots: asyncio.Semaphore) -> None:
        try:
            answer = await self.respond(msg.data)
            if answer is not None:
                await msg.respond(answer)
        except (nats.errors.Error, BrokerError) as exc:  # no input stops the responder
            self.counts["dropped"] += 1
            log.warning("auth callout: cannot answer a login: %r", exc)
        finally:
            slots.release()

    async def respond(self, data: bytes) -> bytes | None:
        """The signed answer to one request, or None for a request that is not a server's."""
        if len(data) > MAX_REQUEST_BYTES:
            self.counts["dropped"] += 1
            log.warning("auth callout: request of %d bytes dropped", len(data))
            return None
        try:
            req = decode(data.decode(errors="replace"), expect_type="authorization_request")
            nats_claims: dict[str, Any] = req["nats"]
            server_id = str(nats_claims["server_id"]["id"])
            user_nkey = str(nats_claims["user_nkey"])
        except (BadJwt, KeyError, TypeError) as exc:
            self.counts["dropped"] += 1
            log.warning("auth callout: request dropped: %r", exc)
            return None
        if req["iss"] != server_id:
            self.counts["dropped"] += 1
            log.warning("auth callout: request dropped: not signed by the server it names")
            return None
        response: dict[str, Any] = {"type": "authorization_response", "version": 2}
        try:
            username, user_jwt = await self._grant(nats_claims, user_nkey)
            response["jwt"] = user_jwt
            self.counts["allowed"] += 1
            log.debug("auth callout: %s allowed", username)
        except Refused as exc:
            response["error"] = str(exc)
            self.counts["refused"] += 1
            log.info("auth callout: login refused: %s", exc)
        return self.key.encode({"sub": user_nkey, "aud": server_id, "nats": response}).encode()

    async def _grant(self, claims: dict[str, Any], user_nkey: str) -> tuple[str, str]:
        """``(username, user JWT)`` for an allowed login; :class:`Refused` otherwise."""
        client = claims.get("client_info") or {}
        opts = claims.get("connect_opts") or {}
        username, password = str(opts.get("user") or ""), str(opts.get("pass") or "")
        client_id = str(client.get("mqtt_id") or "")
        if client.get("type") != "mqtt":
            raise Refused(f"'{username[:64]}': only MQTT logins are authorised here")
        if not username or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
            raise Refused("no username, or credentials too long")
        found = await self.accounts.get(username)
        stored = found[0].password_hash if found else await asyncio.to_thread(dummy_hash)
        matches = await asyncio.to_thread(verify_password, password, stored)
        if found is None or not matches:
            raise Refused(f"'{username}': unknown account or wrong password")
        record = found[0]
        if not record.enabled:
            raise Refused(f"'{username}': account disabled")
        if client_id != record.client_id:
            raise Refused(f"'{username}': client id '{client_id[:64]}' is not the account's")
        pub, sub = nats_permissions(self.prefix, record.role, self.partitions)
        user = {
            "sub": user_nkey,
            "aud": self.account,  # the (non-operator mode) account the session is placed in
            "name": username,
            "exp": int(time.time() + self.session_ttl_s),
            "nats": {
                "pub": {"allow": pub},
                "sub": {"allow": sub},
                "subs": -1,
                "data": -1,
                "payload": -1,
                "allowed_connection_types": ["MQTT"],
                "type": "user",
                "version": 2,
            },
        }
        return username, self.key.encode(user)
