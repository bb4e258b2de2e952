"""The NATS back end of the broker-admin interface: broker accounts in a replicated JetStream KV bucket.

NATS has no dynamic-security plugin; its servers ask an auth callout
(hub/broker/natscallout.py) about every MQTT login instead. This module keeps
what the callout checks: one KV entry per account (the key is the base64url
of the username, which may hold a colon), holding the client id the account
is bound to, its role (``hub`` or ``node:<id>``), whether it is enabled, and
the password as a salted PBKDF2 hash (hub/registry/secrets.py), never the
password itself. The bucket lives in the callout's own NATS account, which no
MQTT user can reach. Writes are compare-and-set on the entry's revision, so
two hub processes changing one account never lose a change.

The identity rules are Mosquitto's (hub/broker/dynsec.py): an existing entry
is reset only if its role is the one the hub gives it
(:class:`~hub.broker.admin.AccountConflict`), and a node's two accounts are
created together or not at all.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from collections import Counter
from dataclasses import asdict, dataclass

import nats.errors
import nats.js.errors
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from citysense.brokerids import uplink_client_id
from hub.broker.acls import HUB_ROLE, node_role
from hub.broker.admin import AccountConflict, create_together, node_accounts
from hub.broker.natskick import SessionCutter
from hub.errors import BrokerError
from hub.registry.secrets import CLAIM_PBKDF2_ROUNDS, hash_password

log = logging.getLogger(__name__)
NATS_CLIENT_ID = re.compile(r"[^.\s*>]+")
HASH_ROUNDS = CLAIM_PBKDF2_ROUNDS
"""The callout checks a password at every connect: a reconnect wave of a county's nodes must stay cheap."""
MAX_RECORD_BYTES = 2048
WRITE_TRIES = 5


@dataclass(frozen=True)
class AccountRecord:
    """One broker account as the callout reads it."""

    username: str
    client_id: str
    role: str
    password_hash: str
    enabled: bool = True

    def encode(self) -> bytes:
        """The KV value."""
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> AccountRecord:
        """Parse a KV value; :class:`BrokerError` if it is not one of ours."""
        if len(raw) > MAX_RECORD_BYTES:
            raise BrokerError("broker account entry too large")
        try:
            data = json.loads(raw)
            return cls(
                username=str(data["username"]),
                client_id=str(data["client_id"]),
                role=str(data["role"]),
                password_hash=str(data["password_hash"]),
                enabled=bool(data["enabled"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BrokerError(f"malformed broker account entry: {exc}") from exc


def account_key(username: str) -> str:
    """The KV key of an account (KV keys allow ``[-/_=.A-Za-z0-9]``; usernames may hold ``:``)."""
    return "u." + base64.urlsafe_b64encode(username.encode()).decode()


class NatsAccounts:
    """Broker accounts in a KV bucket, read by the auth callout; the ``nats`` :class:`~hub.broker.admin.BrokerAdmin`."""

    def __init__(self, kv: KeyValue, *, timeout_s: float = 10.0, cutter: SessionCutter | None = None) -> None:
        self.kv = kv
        self.timeout_s = timeout_s
        self.cutter = cutter  # with a system-account user: live sessions are cut at once, else at their expiry
        self.logins: Counter[str] = Counter()  # the callout's answers: "allowed", "refused", "dropped"

    async def _cut(self, node_id: str) -> None:
        """Disconnect the node's live sessions; their next login meets the changed store. Never raises."""
        if self.cutter is None:
            return
        try:
            cut = await self.cutter.cut([client_id for _, client_id in node_accounts(node_id)])
        except BrokerError as exc:
            log.error("%s: live sessions not cut, they end at their expiry: %s", node_id, exc)  # noqa: TRY400
        else:
            log.info("%s: %d live broker sessions cut", node_id, cut)

    async def get(self, username: str) -> tuple[AccountRecord, int] | None:
        """The account and its revision, or None when there is none."""
        try:
            async with asyncio.timeout(self.timeout_s):
                entry = await self.kv.get(account_key(username))
        except KeyNotFoundError:
            return None
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error) as exc:
            raise BrokerError(f"the broker account store did not answer: {exc!r}") from exc
        if entry.value is None or entry.revision is None:
            return None
        return AccountRecord.decode(entry.value), entry.revision

    async def _write(self, record: AccountRecord, revision: int | None) -> None:
        """Create (``revision`` None) or replace the entry at ``revision``; KeyWrongLastSequenceError if it moved."""
        key, value = account_key(record.username), record.encode()
        try:
            async with asyncio.timeout(self.timeout_s):
                if revision is None:
                    await self.kv.create(key, value)
                else:
                    await self.kv.update(key, value, last=revision)
        except KeyWrongLastSequenceError:
            raise
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error) as exc:
            raise BrokerError(f"the broker account store refused a write: {exc!r}") from exc

    async def _ensure(
        self, username: str, client_id: str, role: str, *, password: str | None = None, enabled: bool = True
    ) -> bool:
        """Create the account or reset the hub's own; return True if created. ``password`` None keeps the old one."""
        new_hash = await asyncio.to_thread(hash_password, password, HASH_ROUNDS) if password is not None else None
        for _ in range(WRITE_TRIES):
            found = await self.get(username)
            if found is not None and found[0].role != role:
                raise AccountConflict(f"broker account '{username}' exists and is not the hub's to manage")
            if found is None and new_hash is None:
                return False  # nothing to disable
            old = found[0] if found else None
            pw_hash = new_hash or (old.password_hash if old else "")
            record = AccountRecord(username, client_id, role, pw_hash, enabled)
            try:
                await self._write(record, found[1] if found else None)
            except KeyWrongLastSequenceError:
                continue  # changed meanwhile by another hub process: read it again
            return found is None
        raise BrokerError(f"broker account '{username}' keeps changing under the hub; try again")

    async def _delete(self, usernames: list[str]) -> None:
        """Compensating step: remove entries this request created; log (never raise) when it cannot."""
        for username in usernames:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await self.kv.delete(account_key(username))
            except (TimeoutError, nats.errors.Error, nats.js.errors.Error) as exc:
                log.error("broker account %s left behind (nobody holds its password): %r", username, exc)  # noqa: TRY400

    async def ensure_hub_account(self, username: str, password: str, client_id: str) -> None:
        """Create (or reset) one of the hub's own accounts, bound to ``client_id``."""
        await self._ensure(username, client_id, HUB_ROLE, password=password)

    async def create_node(self, node_id: str, password: str) -> None:
        """Create the node's two accounts, or reset their password; undo what was created if a step fails."""
        if not NATS_CLIENT_ID.fullmatch(uplink_client_id(node_id)):
            # nats-server refuses MQTT client ids that are not valid NATS names (server/mqtt.go, isValidName).
            raise AccountConflict(f"node id '{node_id}': the NATS MQTT listener cannot take a client id with '.'")
        created = await create_together(
            node_accounts(node_id),
            lambda username, client_id: self._ensure(username, client_id, node_role(node_id), password=password),
            self._delete,
        )
        log.info("%s: broker accounts %s", node_id, "created" if created else "reset")

    async def set_password(self, node_id: str, password: str) -> None:
        """Rotate: the old password is refused from now on; live sessions are cut (or run to their expiry)."""
        await self.create_node(node_id, password)
        await self._cut(node_id)
        log.info("%s: broker password rotated", node_id)

    async def disable(self, node_id: str) -> None:
        """Revoke: both accounts are refused from now on; live sessions are cut (or run to their expiry)."""
        for username, client_id in node_accounts(node_id):
            await self._ensure(username, client_id, node_role(node_id), enabled=False)
        await self._cut(node_id)
        log.info("%s: broker accounts disabled", node_id)

    async def bind_uplink(self, node_id: str) -> bool:
        """Every account in this store was made bound to its client id: nothing to bind."""
        del node_id
        return False
