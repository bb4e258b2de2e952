"""Registry tables of the station gateway (on the registry's ``Base``; migration 0007)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.registry.models import Base


class Station(Base):
    """A dial-in station: the node it is, the protocol it speaks and the identity it claims.

    ``address`` is the identity in the protocol's own terms (HJ 212 MN, SL 651
    station address as 10 hex digits, a DTU's registration id). ``secret`` is
    the password the station sends: HJ 212's PW and SL 651's are sent in clear
    in every packet and the hub must put them into its own commands, so it is
    kept as the protocol needs it and compared in constant time.
    """

    __tablename__ = "stations"
    __table_args__ = (UniqueConstraint("protocol", "address", name="uq_stations_protocol_address"),)
    node_id: Mapped[str] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    secret: Mapped[str] = mapped_column(String(128), default="")
    created_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class StationReport(Base):
    """One report a station sent that is stored (or spooled): a re-sent copy is recognised by its key."""

    __tablename__ = "station_reports"
    __table_args__ = (Index("ix_station_reports_stored_ms", "stored_ms"),)
    node: Mapped[str] = mapped_column(String(64), primary_key=True)
    report_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    stored_ms: Mapped[int] = mapped_column(BigInteger)
