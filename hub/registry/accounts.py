"""Registry tables for access control and traceability: users, API tokens, node credentials, audit log.

They share :class:`hub.registry.models.Base` so one Alembic history covers
them (``hub/registry/migrations``). Secrets are never stored: tokens and
passwords as hashes (:mod:`hub.registry.secrets`).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.registry.models import Base


class NodeKindRow(Base):
    """A node kind known to the registry, with its optional provisioning key (hashed)."""

    __tablename__ = "node_kinds"
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    department_id: Mapped[str | None] = mapped_column(String(64), default=None)
    provisioning_key_hash: Mapped[str | None] = mapped_column(String(128), default=None)


class ProfileRow(Base):
    """A device profile known to the registry (its register map stays in ``device_profiles/``)."""

    __tablename__ = "profiles"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    manufacturer: Mapped[str] = mapped_column(String(128), default="")
    model: Mapped[str] = mapped_column(String(128), default="")


class User(Base):
    """A real-name account with one role, scoped to a region subtree and to departments."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    role: Mapped[str] = mapped_column(String(16))  # administrator | operator | technician | viewer
    region_scope: Mapped[str | None] = mapped_column(String(32), default=None)  # None: the whole city
    departments_json: Mapped[str] = mapped_column(Text, default="[]")  # []: every department
    password_hash: Mapped[str | None] = mapped_column(String(256), default=None)
    active: Mapped[bool] = mapped_column(default=True)


class ApiToken(Base):
    """A bearer token of one user; only the SHA-256 of its secret part is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    secret_hash: Mapped[str] = mapped_column(String(128))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    expires_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class NodeCredential(Base):
    """The MQTT account of one node in the broker; the password is handed out once, stored hashed."""

    __tablename__ = "node_credentials"
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id"), primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)


class AuditEntry(Base):
    """One write: who did what to which object, with the object before and after (JSON)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(129), index=True)
    before_json: Mapped[str | None] = mapped_column(Text, default=None)
    after_json: Mapped[str | None] = mapped_column(Text, default=None)


class LoginFailure(Base):
    """Failed logins of one user name or one client address, and until when further tries are refused."""

    __tablename__ = "login_failures"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)  # "user:<name>" or "addr:<address>"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    blocked_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
