"""A throw-away PKI made with the openssl command: a CA, a server certificate for 127.0.0.1, client certificates."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = "/usr/bin/openssl"


def _run(*args: str) -> None:
    subprocess.run([OPENSSL, *args], check=True, capture_output=True)


@dataclass(frozen=True)
class Pki:
    """Paths of the CA and the broker's certificate; :meth:`client` issues more."""

    dir: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path

    def issue(self, name: str, *, san: str | None = None) -> tuple[Path, Path]:
        """Issue a certificate with common name ``name`` signed by the CA; return (cert, key)."""
        key, csr, cert = (self.dir / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
        _run(
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(csr),
            "-subj",
            f"/CN={name}",
        )
        ext = self.dir / f"{name}.ext"
        ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
        _run(
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(self.ca_cert),
            "-CAkey",
            str(self.ca_key),
            "-CAcreateserial",
            "-out",
            str(cert),
            "-days",
            "2",
            "-sha256",
            "-extfile",
            str(ext),
        )
        return cert, key


def make_pki(directory: Path) -> Pki:
    """Create a CA and a broker certificate valid for 127.0.0.1 and localhost."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    _run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca_cert),
        "-days",
        "2",
        "-subj",
        "/CN=CitySense test CA",
    )
    pki = Pki(directory, ca_cert, ca_key, directory / "broker.crt", directory / "broker.key")
    pki.issue("broker", san="IP:127.0.0.1,DNS:localhost")
    return pki
