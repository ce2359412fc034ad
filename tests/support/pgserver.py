"""A throwaway PostgreSQL server for the test suite and benchmarks.

Usage::

    with PostgresServer.from_env() as pg:
        pg.create_database("hub_template")
        pg.create_database("hub_test_1", template="hub_template")
        engine = sqlalchemy.create_engine(pg.admin_url("hub_test_1"))

``PostgresServer().start()`` runs ``initdb`` into a fresh ``/tmp/marac-pg-*`` folder and starts a
private ``postgres`` on 127.0.0.1 at a free port, tuned for speed rather than durability (fsync,
synchronous commit and full-page writes off). Authentication is ``trust`` for the ``postgres``
superuser. When running as root the cluster belongs to Debian's ``postgres`` user, because
``initdb`` and ``postgres`` refuse to run as root; otherwise it belongs to the current user.
Binaries are found with ``pg_config --bindir``, then ``PATH``, then ``/usr/lib/postgresql/*/bin``.

``stop()`` shuts the server down by the pid in ``postmaster.pid`` (never by process name) and
removes the folder. An ``atexit`` hook and a SIGTERM/SIGHUP handler (installed only where the
default action was in force) stop any server still running, so an interrupted run leaves nothing
behind. Only a SIGKILLed test process can orphan a server.

Escape hatch: set ``MARAC_TEST_DATABASE_URL`` to the admin URL of an existing server, e.g.
``postgresql+psycopg://postgres:secret@db.example:5432/postgres``, and
``PostgresServer.from_env()`` uses that server instead of starting one (``start()`` and
``stop()`` become no-ops; the other methods act on that server, so its user needs the CREATEDB
and CREATEROLE rights). Without the variable ``from_env()`` returns an ordinary, unstarted
``PostgresServer``.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, quote, urlsplit

import psycopg
from psycopg import sql

ENV_URL = "MARAC_TEST_DATABASE_URL"
SUPERUSER = "postgres"
LISTEN_HOST = "127.0.0.1"

# Durability traded for speed: the cluster is deleted after the run anyway.
DEFAULT_SETTINGS: dict[str, str] = {
    "listen_addresses": LISTEN_HOST,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
}

_PORT_IN_USE_MARKERS = ("Address already in use", "could not create any TCP/IP sockets")
_PORT_ATTEMPTS = 5


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LISTEN_HOST, 0))
        return int(sock.getsockname()[1])


def find_bindir() -> Path:
    """Return the folder holding ``initdb`` and ``postgres``, or raise with an install hint."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    # Debian keeps server binaries off PATH; prefer the newest major version.
    versioned = glob.glob("/usr/lib/postgresql/*/bin")
    versioned.sort(key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0)
    candidates.extend(Path(p) for p in reversed(versioned))
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, postgres) not found via pg_config, PATH or "
        f"/usr/lib/postgresql/*/bin; install them (apt-get install -y postgresql) or set {ENV_URL}"
    )


def _tail(path: Path, lines: int = 30) -> str:
    """Return the last lines of a log file, for error messages."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


def _pid_alive(pid: int) -> bool:
    """Return whether a process with this pid exists (zombies count as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PostgresServer:
    """A private PostgreSQL cluster in a temp folder, or an existing server from the env."""

    def __init__(
        self,
        *,
        external_url: str | None = None,
        settings: Mapping[str, str] | None = None,
        startup_timeout: float = 30.0,
        shutdown_timeout: float = 10.0,
    ) -> None:
        self._external_url = external_url
        self._settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        self._lock = threading.RLock()
        self._base_dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._port: int | None = None
        self._owner_pid = os.getpid()
        self._ext_host = ""
        self._ext_port = 0
        if external_url is not None:
            parts = urlsplit(external_url)
            query = parse_qs(parts.query)
            self._ext_host = parts.hostname or query.get("host", ["localhost"])[0]
            self._ext_port = parts.port or int(query.get("port", ["5432"])[0])

    @classmethod
    def from_env(cls, **kwargs: Any) -> Self:
        """Use the server named by ``MARAC_TEST_DATABASE_URL`` if set, else a throwaway one."""
        url = os.environ.get(ENV_URL, "").strip()
        return cls(external_url=url or None, **kwargs)

    # -- properties ---------------------------------------------------------------------------

    @property
    def is_external(self) -> bool:
        """Whether this object wraps an existing server rather than owning one."""
        return self._external_url is not None

    @property
    def running(self) -> bool:
        """Whether the server is usable (always true for an external server)."""
        return self.is_external or self._proc is not None

    @property
    def host(self) -> str:
        """TCP host to connect to."""
        return self._ext_host if self.is_external else LISTEN_HOST

    @property
    def port(self) -> int:
        """TCP port the server listens on."""
        if self.is_external:
            return self._ext_port
        if self._port is None or self._proc is None:
            raise RuntimeError("PostgresServer is not started")
        return self._port

    @property
    def socket_dir(self) -> str | None:
        """Unix-socket folder (usable as libpq ``host``); None for an external server."""
        return str(self._base_dir / "sock") if self._base_dir is not None else None

    @property
    def base_dir(self) -> Path | None:
        """The temp folder holding data, socket and log; None when not running or external."""
        return self._base_dir

    @property
    def data_dir(self) -> Path | None:
        """The cluster's data folder."""
        return self._base_dir / "data" if self._base_dir is not None else None

    @property
    def log_path(self) -> Path | None:
        """The server log file."""
        return self._base_dir / "postgres.log" if self._base_dir is not None else None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid as recorded in ``postmaster.pid``, if the server is running."""
        if self.data_dir is None:
            return None
        try:
            first = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
            return int(first)
        except (OSError, ValueError):
            return None

    # -- URLs ---------------------------------------------------------------------------------

    def admin_url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL for the superuser on ``dbname``."""
        return self._url("postgresql+psycopg", dbname)

    def libpq_url(self, dbname: str = "postgres") -> str:
        """The same URL in plain libpq form, for ``psycopg.connect``."""
        return self._url("postgresql", dbname)

    def _url(self, scheme: str, dbname: str) -> str:
        if self._external_url is not None:
            parts = urlsplit(self._external_url)
            return parts._replace(scheme=scheme, path="/" + quote(dbname, safe="")).geturl()
        return f"{scheme}://{SUPERUSER}@{LISTEN_HOST}:{self.port}/{quote(dbname, safe='')}"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        """Create and start the cluster; a no-op if running or external."""
        with self._lock:
            if self.running:
                return self
            bindir = find_bindir()
            run_as = self._run_as_user()
            base = Path(tempfile.mkdtemp(prefix="marac-pg-", dir=self._temp_root()))
            self._base_dir = base
            try:
                (base / "sock").mkdir()
                if run_as is not None:
                    for path in (base, base / "sock"):
                        os.chown(path, run_as.pw_uid, run_as.pw_gid)
                self._initdb(bindir, run_as)
                self._launch(bindir, run_as)
            except BaseException:
                self._shutdown()
                raise
            _register(self)
            return self

    def stop(self) -> None:
        """Stop the server and delete its folder; idempotent, a no-op if external."""
        with self._lock:
            if self.is_external or os.getpid() != self._owner_pid:
                return  # A forked child must not tear down its parent's server.
            self._shutdown()
            _unregister(self)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self.running else "stopped"
        return f"<PostgresServer {'external ' if self.is_external else ''}{where}>"

    @staticmethod
    def _temp_root() -> str:
        """Prefer /tmp: the postgres user can reach it and socket paths stay short."""
        return "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()

    @staticmethod
    def _run_as_user() -> pwd.struct_passwd | None:
        """Return the account to run the cluster as when we are root, else None (ourselves)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise RuntimeError(
                "running as root but there is no 'postgres' user to own the cluster "
                "(installing the postgresql package creates it)"
            ) from None

    def _initdb(self, bindir: Path, run_as: pwd.struct_passwd | None) -> None:
        """Run initdb, falling back to the C locale where C.UTF-8 is not installed."""
        assert self._base_dir is not None and self.data_dir is not None
        errors: list[str] = []
        for locale in ("C.UTF-8", "C"):
            cmd = [
                str(bindir / "initdb"),
                "-D", str(self.data_dir),
                "-A", "trust",
                "-U", SUPERUSER,
                "--no-sync",
                "-E", "UTF8",
                f"--locale={locale}",
            ]  # fmt: skip
            if run_as is not None:
                cmd = ["runuser", "-u", run_as.pw_name, "--", *cmd]
            result = subprocess.run(
                cmd, cwd=self._base_dir, capture_output=True, text=True, timeout=120, check=False
            )
            if result.returncode == 0:
                return
            errors.append(f"--locale={locale}: {result.stdout}{result.stderr}".strip())
            shutil.rmtree(self.data_dir, ignore_errors=True)
        raise RuntimeError("initdb failed:\n" + "\n\n".join(errors))

    def restart(self, *, immediate: bool = True, down_seconds: float = 0.0) -> None:
        """Stop the server and start it again on the same port and data.

        ``immediate`` stops it as a crash or a power cut would (SIGQUIT: no checkpoint,
        recovery from the WAL on start); otherwise a fast shutdown. Every connection drops.
        ``down_seconds`` keeps it stopped that long first.
        """
        with self._lock:
            if self.is_external or self._proc is None or self._port is None:
                raise RuntimeError("only a server this object started can be restarted")
            port = self._port
            pid = self._proc.pid
            os.kill(pid, signal.SIGQUIT if immediate else signal.SIGINT)
            if not self._wait_exit(pid, self._shutdown_timeout):
                raise TimeoutError("postgres did not stop")
            self._proc = None
            time.sleep(down_seconds)
            self._launch(find_bindir(), self._run_as_user(), port=port)

    def _launch(
        self, bindir: Path, run_as: pwd.struct_passwd | None, port: int | None = None
    ) -> None:
        """Start postgres on a free port, retrying if another process grabs the port first."""
        assert self._base_dir is not None and self.log_path is not None
        attempts = 1 if port is not None else _PORT_ATTEMPTS
        fixed = port
        for _attempt in range(attempts):
            port = fixed or free_port()
            cmd = [str(bindir / "postgres"), "-D", str(self.data_dir), "-p", str(port)]
            cmd += ["-k", str(self.socket_dir)]
            for name, value in self._settings.items():
                cmd += ["-c", f"{name}={value}"]
            with open(self.log_path, "ab") as log:
                # Run postgres directly (not via runuser) so its pid is our child's pid and we
                # reap it ourselves; a new session keeps a terminal Ctrl-C for our own shutdown.
                self._proc = subprocess.Popen(
                    cmd,
                    cwd=self._base_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    user=run_as.pw_uid if run_as else None,
                    group=run_as.pw_gid if run_as else None,
                    extra_groups=[] if run_as else None,
                )
            self._port = port
            if self._wait_ready():
                return
            log_tail = _tail(self.log_path)
            self._proc.wait()
            self._proc = None
            if fixed is not None or not any(m in log_tail for m in _PORT_IN_USE_MARKERS):
                raise RuntimeError(f"postgres exited during startup; server log:\n{log_tail}")
        raise RuntimeError(f"postgres could not bind a free port in {_PORT_ATTEMPTS} attempts")

    def _wait_ready(self) -> bool:
        """Wait until the server accepts connections; False if it exited (e.g. port taken)."""
        assert self._proc is not None and self.log_path is not None
        deadline = time.monotonic() + self._startup_timeout
        while True:
            if self._proc.poll() is not None:
                return False
            try:
                with psycopg.connect(self.libpq_url(), connect_timeout=2):
                    return True
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"postgres did not accept connections on port {self._port} within "
                    f"{self._startup_timeout:.0f}s; server log:\n{_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def _shutdown(self) -> None:
        """Fast shutdown by postmaster.pid, escalate if needed, then remove the folder."""
        pid = self.pid
        if self._proc is not None and self._proc.poll() is not None:
            pid = None  # Our postmaster already died: a leftover pid file may name a reused pid.
        elif pid is None and self._proc is not None:
            pid = self._proc.pid  # The pid file vanished but our child still runs.
        if pid is not None:
            # SIGINT = fast shutdown; SIGQUIT = immediate shutdown; SIGKILL as last resort.
            for sig, timeout in (
                (signal.SIGINT, self._shutdown_timeout),
                (signal.SIGQUIT, 5.0),
                (signal.SIGKILL, 5.0),
            ):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
                if self._wait_exit(pid, timeout):
                    break
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None
        if self._base_dir is not None:
            shutil.rmtree(self._base_dir, ignore_errors=True)
            self._base_dir = None
        self._port = None

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        """Wait for ``pid`` to exit, reaping it when it is our child."""
        if self._proc is not None and self._proc.pid == pid:
            try:
                self._proc.wait(timeout=timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    # -- administration -----------------------------------------------------------------------

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """Open an autocommit psycopg connection as the admin user."""
        kwargs.setdefault("autocommit", True)
        kwargs.setdefault("connect_timeout", 10)
        return psycopg.connect(self.libpq_url(dbname), **kwargs)

    def create_database(self, name: str, template: str | None = None) -> None:
        """Create ``name``, optionally cloned from ``template`` (which must have no sessions)."""
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            # The default strategy (WAL_LOG on 15) measured as fast as FILE_COPY for small schemas.
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.connect() as conn:
            conn.execute(query)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, disconnecting any sessions still using it."""
        with self.connect() as conn:
            query = sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
            if conn.info.server_version >= 130000:
                query += sql.SQL(" WITH (FORCE)")
            conn.execute(query)

    def create_role(self, name: str, password: str | None = None, login: bool = True) -> None:
        """Create a role; the password is stored though the throwaway server trusts everyone."""
        query = sql.SQL("CREATE ROLE {} {}").format(
            sql.Identifier(name), sql.SQL("LOGIN" if login else "NOLOGIN")
        )
        if password is not None:
            query += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
        with self.connect() as conn:
            conn.execute(query)


# -- safety net ---------------------------------------------------------------------------------

_live: set[PostgresServer] = set()
_live_lock = threading.RLock()
_safety_net_installed = False
_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _register(server: PostgresServer) -> None:
    """Track a started server and install the exit hooks once."""
    global _safety_net_installed
    with _live_lock:
        _live.add(server)
        if _safety_net_installed:
            return
        _safety_net_installed = True
        atexit.register(_stop_all)
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                # Only take over signals nobody else handles, so we never mask a test's handler.
                if signal.getsignal(signum) is signal.SIG_DFL:
                    signal.signal(signum, _on_fatal_signal)


def _unregister(server: PostgresServer) -> None:
    with _live_lock:
        _live.discard(server)


def _stop_all() -> None:
    """Stop every server this process started (atexit hook)."""
    with _live_lock:
        servers = list(_live)
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()


def _on_fatal_signal(signum: int, frame: FrameType | None) -> None:
    """Stop our servers, then die by the same signal as the default action would."""
    _stop_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


__all__ = [
    "DEFAULT_SETTINGS",
    "ENV_URL",
    "PostgresServer",
    "find_bindir",
    "free_port",
]
