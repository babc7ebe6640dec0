"""A throw-away PostgreSQL server for tests: initdb into a temporary folder, start it on a free
loopback port, hand out fresh databases, stop it at the end.

``$ETL_TEST_POSTGRES_URL`` (a SQLAlchemy URL whose user may ``CREATE DATABASE``) points the tests
at an existing server instead. When neither works this raises :class:`PostgresUnavailable`; the
catalog suite turns that into an error, never a skip, so CI always exercises PostgreSQL.
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
from pathlib import Path

import psycopg
from sqlalchemy.engine import URL, make_url

ENV_URL = "ETL_TEST_POSTGRES_URL"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be found or started."""


def find_binary(name: str) -> str | None:
    """``name`` (initdb, pg_ctl) on PATH, else the newest /usr/lib/postgresql/*/bin/<name>."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")

    def major(path: str) -> tuple[int, ...]:
        version = Path(path).parent.parent.name
        return tuple(int(p) for p in version.split(".") if p.isdigit())

    return max(candidates, key=major) if candidates else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A server to create databases on: a local temporary cluster or ``$ETL_TEST_POSTGRES_URL``."""

    def __init__(
        self, admin_url: URL, *, base: Path | None = None, pg_ctl: list[str] | None = None
    ) -> None:
        self.admin_url = admin_url  # connects to a maintenance database; may CREATE DATABASE
        self._base = base
        self._pg_ctl = pg_ctl

    # ----- lifecycle ----------------------------------------------------------------------
    @classmethod
    def from_environment(cls) -> PostgresServer:
        url = os.environ.get(ENV_URL)
        if url:
            server = cls(make_url(url))
            server.check()
            return server
        return cls.start_local()

    @classmethod
    def start_local(cls) -> PostgresServer:
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        if not initdb or not pg_ctl:
            raise PostgresUnavailable(
                "PostgreSQL server binaries (initdb, pg_ctl) are not on PATH nor in "
                "/usr/lib/postgresql/*/bin. Install them (Debian/Ubuntu: "
                "apt-get install -y postgresql) "
                f"or set {ENV_URL}=postgresql+psycopg://user:password@host:port/postgres."
            )
        # initdb refuses to run as root: run the server as the `postgres` OS user then.
        prefix: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "running as root and there is no `postgres` OS user to run initdb/pg_ctl as; "
                    f"create one or set {ENV_URL}"
                ) from None
            runuser = shutil.which("runuser") or shutil.which("runuser", path="/usr/sbin:/sbin")
            if not runuser:
                raise PostgresUnavailable(
                    f"running as root and `runuser` is missing; set {ENV_URL}"
                )
            prefix = [runuser, "-u", "postgres", "--"]

        # Under /tmp (world-traversable), not pytest's root-only tmp dirs.
        base = Path(tempfile.mkdtemp(prefix="etl-pg-", dir="/tmp"))
        os.chmod(base, 0o755)
        if owner is not None:
            os.chown(base, owner.pw_uid, owner.pw_gid)
        data, log = base / "data", base / "server.log"
        port = _free_port()

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*prefix, *args], capture_output=True, text=True, timeout=120, check=False, cwd=base
            )

        proc = run(
            initdb,
            "-D",
            str(data),
            "--auth=trust",
            "-U",
            "postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        if proc.returncode != 0:
            shutil.rmtree(base, ignore_errors=True)
            raise PostgresUnavailable(
                f"initdb failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        # Durability is irrelevant for a test cluster: skip fsyncs to keep it fast.
        options = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        proc = run(
            pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"
        )
        if proc.returncode != 0:
            detail = log.read_text(errors="replace") if log.exists() else ""
            shutil.rmtree(base, ignore_errors=True)
            raise PostgresUnavailable(
                f"pg_ctl start failed (exit {proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}\n{detail}"
            )
        admin = URL.create(
            "postgresql+psycopg",
            username="postgres",
            host="127.0.0.1",
            port=port,
            database="postgres",
        )
        server = cls(admin, base=base, pg_ctl=[*prefix, pg_ctl, "-D", str(data)])
        server.check()
        return server

    def check(self) -> None:
        try:
            with self._connect() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            self.stop()
            raise PostgresUnavailable(
                f"cannot connect to PostgreSQL at {self.describe()}: {exc}"
            ) from exc

    def stop(self) -> None:
        if self._pg_ctl:
            subprocess.run(
                [*self._pg_ctl, "-m", "fast", "-w", "stop"],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            self._pg_ctl = None
        if self._base:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None

    def describe(self) -> str:
        return self.admin_url.render_as_string(hide_password=True)

    # ----- databases ----------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        dsn = self.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)

    def create_database(self, prefix: str = "etl_test") -> str:
        """A new, empty database; returns its SQLAlchemy URL (psycopg 3 driver)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._connect() as conn:
            conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
        return self.admin_url.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    # ----- schemas: a fresh, empty namespace in ~1 ms where CREATE DATABASE takes ~0.3 s ----
    @staticmethod
    def _connect_to(url: str) -> psycopg.Connection:
        parsed = make_url(url)
        dsn = parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10)

    def create_schema(self, database_url: str, prefix: str = "t") -> str:
        """A new, empty schema in ``database_url``'s database; returns a URL whose connections
        use it as their only ``search_path``, so unqualified tables (the catalog's and Alembic's
        version table) are created and found there."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with self._connect_to(database_url) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        url = make_url(database_url).update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)

    def drop_schema(self, url: str) -> None:
        options = make_url(url).query.get("options", "")
        name = str(options).removeprefix("-csearch_path=")
        with self._connect_to(url) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
