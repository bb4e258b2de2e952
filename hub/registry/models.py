"""SQLAlchemy tables of the registry."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of every hub table."""


class Region(Base):
    """A city, town/subdistrict, or village/community, by administrative code."""

    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(16))  # city | town | village
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), default=None)


class Department(Base):
    """A department that owns devices (water, weather, urban management...)."""

    __tablename__ = "departments"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))


class Node(Base):
    """One edge agent on one site."""

    __tablename__ = "nodes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"))
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)
    site: Mapped[str] = mapped_column(String(128), default="")
    online: Mapped[bool] = mapped_column(default=False)
    last_seen_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    agent_version: Mapped[str] = mapped_column(String(32), default="")
    config_version: Mapped[int] = mapped_column(Integer, default=0)
    epoch: Mapped[str | None] = mapped_column(String(32), default=None)  # the agent state's epoch last seen
    endpoints_json: Mapped[str] = mapped_column(Text, default="{}")  # connection id -> site address
    # Provisioning: placeholder -> claimed (technician on site) -> commissioned (first birth message).
    status: Mapped[str] = mapped_column(String(16), default="commissioned", index=True)
    claim_code_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    claimed_ms: Mapped[int | None] = mapped_column(BigInteger, default=None)
    desired_config_version: Mapped[int] = mapped_column(Integer, default=0)
    devices: Mapped[list[Device]] = relationship(back_populates="node", cascade="all, delete-orphan")


class Device(Base):
    """A sensor on a node's bus; ``uid`` is ``<node>.<local id>``."""

    __tablename__ = "devices"
    uid: Mapped[str] = mapped_column(String(129), primary_key=True)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id"), index=True)
    local_id: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(64))
    connection: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[int] = mapped_column(Integer)
    poll_interval_s: Mapped[float] = mapped_column(Float)
    node: Mapped[Node] = relationship(back_populates="devices")


class DeadLetter(Base):
    """A rejected message or reading, kept with the reason it was refused."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    topic: Mapped[str] = mapped_column(String(512))
    node: Mapped[str | None] = mapped_column(String(64), default=None)
    reason: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)  # first bytes, as text (escaped)
