"""A PostgreSQL server of its own, run from the distribution's server binaries.

Layout under ``base_dir``::

    data/          PGDATA (owned by the server's user; its unix socket lives here too)
    postgres.pid   postgres.log

initdb and the server refuse to run as root: when we are root they run as the ``postgres``
system user (Debian's ``postgresql`` package creates it), otherwise as ourselves. The server
listens on 127.0.0.1 only. Socket connections are trusted (the socket sits in the 0700 data
dir, so only the server's user and root reach it); TCP needs a password (scram-sha-256).
Every start makes sure the application role and database exist (idempotent).
"""

from __future__ import annotations

import glob
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

from livetranslate_common.devstack.processes import (
    ManagedProcess,
    ProcessBackedComponent,
    port_open,
)

log = logging.getLogger(__name__)

PG_BINDIR_ENV = "LIVETRANSLATE_PG_BINDIR"
PG_USER_ENV = "LIVETRANSLATE_PG_USER"
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "postgres"  # noqa: S105 - a local, 127.0.0.1-only development server
_MAX_SOCKET_PATH = 100


class PostgresUnavailableError(RuntimeError):
    """The server cannot be run here (no binaries, no unprivileged user...)."""


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "postgres").is_file()


def find_bindir() -> Path:
    """The directory with ``initdb`` and ``postgres``.

    ``$LIVETRANSLATE_PG_BINDIR``, ``pg_config --bindir``, the newest
    ``/usr/lib/postgresql/*/bin``, or the PATH.
    """
    configured = os.environ.get(PG_BINDIR_ENV)
    if configured:
        return Path(configured)
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run(  # noqa: S603
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))

    def version(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    candidates += [
        Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version)[::-1]
    ]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for candidate in candidates:
        if _has_server(candidate):
            return candidate
    raise PostgresUnavailableError(
        "PostgreSQL server binaries (initdb, postgres) not found: install them "
        "(apt-get install postgresql), point LIVETRANSLATE_PG_BINDIR at them, "
        "or set DATABASE_URL to use an existing server"
    )


def _server_user() -> pwd.struct_passwd | None:
    """The system user to run as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(PG_USER_ENV, "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise PostgresUnavailableError(
            f"running as root and there is no '{name}' system user to run PostgreSQL as "
            "(initdb refuses root): install the postgresql package, which creates it, or "
            f"create one (useradd --system {name}), or set {PG_USER_ENV}"
        ) from None


def _check_traversable(path: Path, user: pwd.struct_passwd) -> None:
    """Every ancestor of ``path`` must let ``user`` through, or initdb fails obscurely."""
    for directory in path.parents:
        info = directory.stat()
        if info.st_uid == user.pw_uid:
            allowed = bool(info.st_mode & stat.S_IXUSR)
        elif info.st_gid == user.pw_gid:
            allowed = bool(info.st_mode & stat.S_IXGRP)
        else:
            allowed = bool(info.st_mode & stat.S_IXOTH)
        if not allowed:
            raise PostgresUnavailableError(
                f"user '{user.pw_name}' cannot enter {directory} (mode "
                f"{stat.filemode(info.st_mode)}), so PostgreSQL cannot use {path}: "
                f"chmod o+x {directory} or choose another directory"
            )


class LocalPostgres(ProcessBackedComponent):
    """A PostgreSQL server on 127.0.0.1:``port`` with one application role and database."""

    name = "postgres"

    def __init__(
        self,
        base_dir: Path,
        port: int,
        *,
        user: str = "livetranslate",
        password: str = "livetranslate",  # noqa: S107 - local development default
        database: str = "livetranslate",
        durable: bool = True,
        bindir: Path | None = None,
    ) -> None:
        self.base_dir = base_dir.resolve()
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.durable = durable
        self._bindir = bindir
        self.data_dir = self.base_dir / "data"
        self.last_start_seconds: float | None = None
        self._os_user = _server_user()
        self.process = ManagedProcess(
            name=self.name,
            command=(),  # filled in by start(): needs the binaries' directory
            pid_file=self.base_dir / "postgres.pid",
            log_file=self.base_dir / "postgres.log",
            ready=self.is_ready,
            port=self.port,
            url=self.url,
            user=self._os_user.pw_name if self._os_user else None,
            # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for clients.
            stop_signal=signal.SIGINT,
            stop_timeout=30.0,
        )

    # ------------------------------------------------------------------ urls

    @property
    def url(self) -> str:
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    @property
    def superuser_url(self) -> str:
        return f"postgresql://{SUPERUSER}:{SUPERUSER_PASSWORD}@127.0.0.1:{self.port}/postgres"

    # ------------------------------------------------------------------ setup

    def bindir(self) -> Path:
        if self._bindir is None:
            self._bindir = find_bindir()
        return self._bindir

    def _run_as_server_user(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        os_user = self._os_user
        env = {**os.environ, "LC_ALL": "C", "HOME": str(self.base_dir)}
        return subprocess.run(  # noqa: S603
            command,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.base_dir,
            env=env,
            user=os_user.pw_uid if os_user else None,
            group=os_user.pw_gid if os_user else None,
            extra_groups=[] if os_user else None,
        )

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").is_file():
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._os_user is not None:
            _check_traversable(self.data_dir, self._os_user)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        pwfile = self.base_dir / ".initdb-pw"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self._os_user is not None:
            for path in (self.data_dir, pwfile):
                os.chown(path, self._os_user.pw_uid, self._os_user.pw_gid)
        command = [
            str(self.bindir() / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
        ]
        if not self.durable:
            command.append("--no-sync")
        try:
            result = self._run_as_server_user(command)
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise PostgresUnavailableError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    def _command(self) -> tuple[str, ...]:
        socket_path = self.data_dir / f".s.PGSQL.{self.port}"
        socket_dir = str(self.data_dir) if len(str(socket_path)) < _MAX_SOCKET_PATH else ""
        settings = {
            "port": str(self.port),
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": socket_dir,
            "max_connections": "200",
        }
        if not self.durable:  # throw-away test servers: speed over crash safety
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
            # An autovacuum worker in a test's database runs as the bootstrap superuser, so
            # the app role's DROP DATABASE ... WITH (FORCE) at teardown cannot end it and fails
            # (seen in CI); the databases live for one test, with nothing to vacuum for.
            settings["autovacuum"] = "off"
        args: list[str] = [str(self.bindir() / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return tuple(args)

    def _bootstrap(self) -> None:
        """Create the application role and database unless they exist."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.superuser_url, autocommit=True, connect_timeout=5) as conn:
            role = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (self.user,))
            if role.fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                        sql.Identifier(self.user), sql.Literal(self.password)
                    )
                )
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
            if found.fetchone() is None:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(self.database), sql.Identifier(self.user)
                    )
                )

    # ------------------------------------------------------------------ lifecycle

    def is_ready(self) -> bool:
        if not port_open("127.0.0.1", self.port):
            return False
        import psycopg

        try:
            with psycopg.connect(self.superuser_url, connect_timeout=2):
                return True
        except psycopg.Error:
            return False

    def is_running(self) -> bool:
        return self.process.is_running()

    def start(self, timeout: float = 60.0) -> bool:
        """initdb once, start the server, create role and database; False if already running."""
        if self.process.is_running():
            return False
        started = time.monotonic()
        self._initdb()
        self.process.command = self._command()
        self.process.start(timeout=timeout)
        self._bootstrap()
        self.last_start_seconds = time.monotonic() - started
        log.info("postgres ready on port %d in %.1f s", self.port, self.last_start_seconds)
        return True
