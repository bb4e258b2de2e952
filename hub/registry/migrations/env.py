"""Alembic environment: run migrations on the connection the hub hands over (``config.attributes``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

import hub.alerts.models
import hub.ingest.seqledger
import hub.notify.models
import hub.registry.accounts  # register every package's tables on Base.metadata
import hub.stations.models
from hub.registry.models import Base

target_metadata = Base.metadata
_ = (hub.registry.accounts, hub.alerts.models, hub.notify.models, hub.ingest.seqledger)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things in place
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:  # called by the ``alembic`` command line with a URL
    from sqlalchemy import create_engine

    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        _run(conn)
else:
    _run(connection)
