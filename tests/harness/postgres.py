"""A real PostgreSQL server for tests: ``initdb`` a temporary cluster and run it on a free loopback port.

PostgreSQL refuses to run as root, so as root the cluster is created and run
as the ``postgres`` system user (Debian package ``postgresql``) through
``runuser``; its temp directory is handed to that user. Authentication is
``trust`` on loopback only.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.harness.ports import HarnessError, free_port, log_tail, wait_port
from tests.harness.server import LocalServer


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise HarnessError(f"{name} not found: run `python3 scripts/test.py`, which installs postgresql")
    return path


class PostgresServer(LocalServer):
    """One ``postgres`` process on 127.0.0.1:<free port> with a fresh cluster in a temp dir."""

    def __init__(self, *, database: str = "citysense", start_timeout_s: float = 30.0) -> None:
        self.initdb = _pg_bin("initdb")
        self.postgres = _pg_bin("postgres")
        self.host = "127.0.0.1"
        self.port = free_port()
        self.database = database
        self.start_timeout_s = start_timeout_s
        self.dir = Path(tempfile.mkdtemp(prefix="postgres-"))
        self.data = self.dir / "data"
        self.log_path = self.dir / "postgres.log"
        self._user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database (psycopg 3)."""
        return f"postgresql+psycopg://{self._user}@{self.host}:{self.port}/{self.database}"

    def _cmd(self, *argv: str) -> list[str]:
        return ["runuser", "-u", self._user, "--", *argv] if os.geteuid() == 0 else list(argv)

    def start(self) -> None:
        """Create the cluster and the database; return when the server accepts connections."""
        if os.geteuid() == 0:
            shutil.chown(self.dir, self._user)
        init = subprocess.run(
            self._cmd(self.initdb, "-D", str(self.data), "-A", "trust", "-U", self._user, "--no-sync", "-E", "UTF8"),
            capture_output=True,
            check=False,
        )
        if init.returncode != 0:
            raise HarnessError(f"initdb failed: {init.stderr.decode(errors='replace')}")
        with self.log_path.open("ab") as log:
            if os.geteuid() == 0:
                shutil.chown(self.log_path, self._user)
            self._proc = subprocess.Popen(
                self._cmd(
                    self.postgres, "-D", str(self.data), "-h", self.host, "-p", str(self.port),
                    "-k", str(self.dir), "-c", "fsync=off", "-c", "full_page_writes=off",
                ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        try:
            wait_port(self._proc, self.host, self.port, self.start_timeout_s, self.log_path)
            self._createdb()
        except HarnessError:
            self.close()
            raise

    def admin(self, sql: str) -> None:
        """Run ``sql`` as the superuser on the maintenance database (autocommit)."""
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self._user, dbname="postgres", autocommit=True) as c:
            c.execute(sql)

    def refuse_sessions(self) -> None:
        """Refuse every new session of the test database and end the open ones (as a restart or a failover does)."""
        self.admin(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS false')
        self.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.database}'")

    def accept_sessions(self) -> None:
        """Accept sessions of the test database again."""
        self.admin(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS true')

    def _createdb(self) -> None:
        import psycopg

        for _ in range(50):  # the port opens a moment before the server accepts logins
            try:
                with psycopg.connect(
                    host=self.host, port=self.port, user=self._user, dbname="postgres", autocommit=True
                ) as conn:
                    conn.execute(f'CREATE DATABASE "{self.database}"')
                    return
            except psycopg.OperationalError as exc:
                if "starting up" not in str(exc):
                    raise HarnessError(f"createdb failed: {exc}\n{log_tail(self.log_path)}") from exc
                import time

                time.sleep(0.1)
        raise HarnessError(f"postgres never accepted logins:\n{log_tail(self.log_path)}")
