"""TLS settings for MQTT connections: which CA to trust, and an optional client certificate."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Self

from pydantic import model_validator

from citysense.profiles.model import Strict


class TlsFiles(Strict):
    """PEM files for a TLS connection to the broker.

    ``ca_file`` is the CA bundle that signed the broker's certificate (the
    system store when unset); ``cert_file`` and ``key_file`` are the client's
    certificate and key, for brokers that require client certificates
    (Mosquitto ``require_certificate true``).
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("'cert_file' and 'key_file' go together")
        return self

    def context(self) -> ssl.SSLContext:
        """Return a client context that verifies the broker (hostname included) and presents our certificate."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file) if self.ca_file else None)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.cert_file is not None and self.key_file is not None:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx
