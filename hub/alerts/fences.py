"""Fencing of a province worker's alert writes, in the database the alarms live in.

A cluster worker evaluates the alert rules of the nodes in the partitions it
holds (docs/scale-out.md). Its lease in NATS KV names a *fencing token* (the
lease key's revision when it took the partition; a later owner's is higher).
The lease alone cannot stop a worker that lost it without knowing — paused,
cut off from NATS, killed between two checks — from writing evaluation state
or alarm transitions for the partition it no longer owns. So the database
itself refuses them:

* ``alert_fences`` holds one row per partition with the token of its owner.
  A worker that gains a partition *seals* it (:func:`seal`): the row's token
  becomes its own, in a transaction that locks the row, and only then does it
  load the partition's evaluation states.
* Every write of evaluation states or transitions runs :func:`check` first,
  in the same transaction: it takes a shared lock on the partitions' rows and
  refuses (:class:`~hub.alerts.errors.AlertsFenced`) unless each row still
  carries the writer's token.

The two locks serialize a write and a seal: a write that committed before the
seal is in the states the new owner loads after it; one that comes after is
refused. Tokens come from one lease bucket and only grow; recreating that
bucket restarts them, so the operator then empties ``alert_fences`` too.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from hub.alerts.errors import AlertsFenced
from hub.alerts.models import AlertFence


def check(s: Session, tokens: Mapping[int, int]) -> None:
    """Inside a write transaction: refuse it unless every partition in ``tokens`` still has that token."""
    if not tokens:
        return
    q = select(AlertFence.partition, AlertFence.token).where(AlertFence.partition.in_(sorted(tokens)))
    rows = s.execute(q.order_by(AlertFence.partition).with_for_update(read=True))
    stored = {p: token for p, token in rows}
    for p, token in tokens.items():
        if stored.get(p) != token:
            raise AlertsFenced(p, token, stored.get(p))


def seal(sessions: sessionmaker[Session], partition: int, token: int, worker: str, now_ms: int) -> None:
    """Make ``token`` the partition's (a newer one already there refuses it: this worker's lease is stale)."""
    for _ in range(3):  # two workers creating the first row of a partition at once: one insert loses, retried
        try:
            with sessions() as s, s.begin():
                row = s.get(AlertFence, partition, with_for_update=True)
                if row is None:
                    s.add(AlertFence(partition=partition, token=token, worker=worker[:64], sealed_ms=now_ms))
                elif row.token > token:
                    raise AlertsFenced(partition, token, row.token)
                else:
                    row.token, row.worker, row.sealed_ms = token, worker[:64], now_ms
        except IntegrityError:
            continue
        else:
            return
    raise AlertsFenced(partition, token, None)
