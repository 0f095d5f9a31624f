"""Integration fixtures: a PostgreSQL database for the @pytest.mark.postgres tests.

``postgres_url`` is a fresh database (dropped at the end of the session) on:

1. the server in ``MLPIPE_TEST_POSTGRES_URL`` when set (e.g. from ``scripts/postgres-test-server start``);
2. else a throwaway server started here from Debian's binaries (``/usr/lib/postgresql/*/bin``), as the
   ``postgres`` user when running as root, on 127.0.0.1 and a free port;
3. else the tests fail when ``CI`` is set (a CI run must not pass by skipping) and are skipped otherwise.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import sqlalchemy as sa

ENV_URL = "MLPIPE_TEST_POSTGRES_URL"
HOW_TO = f"run `scripts/postgres-test-server start` and export the {ENV_URL} it prints"


class ThrowawayServer:
    """initdb + pg_ctl on a temporary data directory; stop() removes it."""

    def __init__(self, bin_dir: Path):
        self.bin_dir = bin_dir
        self.as_postgres = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="mlpipe-pg-"))
        if self.as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = self.dir / "server.log"
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()} "
                               f"{log.read_text()[-2000:] if log.exists() else ''}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "server.log"), "-w", "-t", "60",
                  "-o", options, "start")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        except (RuntimeError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _unavailable(reason: str) -> NoReturn:
    message = f"no PostgreSQL for the postgres tests: {reason}; {HOW_TO}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
    raise AssertionError("unreachable")


def _fresh_database(server_url: str) -> Iterator[str]:
    """Create mlpipe_test_<random> on the server, yield its URL, drop it afterwards."""
    name = f"mlpipe_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 10})
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.SQLAlchemyError as exc:
        admin.dispose()
        _unavailable(f"cannot create a database on {sa.make_url(server_url).render_as_string()}: {exc.orig}")
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database for this test session."""
    if os.environ.get(ENV_URL):
        yield from _fresh_database(os.environ[ENV_URL])
        return
    bin_dir = _bin_dir()
    if bin_dir is None:
        _unavailable(f"{ENV_URL} is not set and no binaries under /usr/lib/postgresql/*/bin")
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _has_user("postgres")):
        _unavailable("running as root needs runuser and a `postgres` user to start a server")
    server = ThrowawayServer(bin_dir)
    try:
        server.start()
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
        server.stop()
        _unavailable(f"could not start a throwaway server: {exc}")
    try:
        yield from _fresh_database(server.url)
    finally:
        server.stop()


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
