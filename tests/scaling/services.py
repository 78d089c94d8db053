"""Services the scaling tests need, started (and installed with apt-get when missing) by the tests
themselves: a Celery broker (Redis, else RabbitMQ) and a transaction-mode PgBouncer.

Nothing here is skipped for want of a service: a missing binary is installed, a stopped service
is started; only a failure to do either fails the test, with the reason.
"""
from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, timeout: float = 30, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port, host):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on {host}:{port} after {timeout} s")
        time.sleep(0.1)


def apt_install(package: str, binary: str) -> str:
    """The path of ``binary``; installs the Debian ``package`` (as root) when it is missing."""
    found = shutil.which(binary) or next(
        (str(p) for p in (Path("/usr/sbin") / binary, Path("/usr/bin") / binary) if p.exists()), None
    )
    if found:
        return found
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True, timeout=300)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", package], env=env, capture_output=True, text=True, timeout=600)
    found = shutil.which(binary) or next(
        (str(p) for p in (Path("/usr/sbin") / binary, Path("/usr/bin") / binary) if p.exists()), None
    )
    if not found:
        raise RuntimeError(f"`apt-get install {package}` did not provide {binary}: {result.stderr[-2000:]}")
    return found


def ensure_package(module: str, requirement: str):
    """Import ``module``; when missing, pip-install ``requirement`` into this interpreter first
    (the optional extras `celery` and `k8s` are in `dev`, so this only helps a bare venv)."""
    import importlib
    import sys

    try:
        return importlib.import_module(module)
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], check=True, timeout=600)
        importlib.invalidate_caches()
        return importlib.import_module(module)


# ─────────────────────────────── Celery broker ───────────────────────────────

@contextlib.contextmanager
def celery_broker() -> Iterator[str]:
    """A broker URL for the test's own use: a private Redis on a free port (installed when missing);
    when Redis cannot be had, RabbitMQ on 127.0.0.1:5672 (started with ``rabbitmq-server -detached``
    when not running)."""
    try:
        redis_server = apt_install("redis-server", "redis-server")
    except Exception as redis_error:  # pragma: no cover - machines without Redis packages
        with rabbitmq_broker(redis_error) as url:
            yield url
        return
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="ap-redis-")
    pidfile = Path(workdir) / "redis.pid"
    subprocess.run(
        [redis_server, "--daemonize", "yes", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", workdir, "--pidfile", str(pidfile), "--logfile", str(Path(workdir) / "redis.log")],
        check=True, timeout=30,
    )
    try:
        wait_for_port(port, 20)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        deadline = time.monotonic() + 10
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().strip()), signal.SIGTERM)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def rabbitmq_broker(reason: Exception | None = None) -> Iterator[str]:  # pragma: no cover - fallback
    if not port_open(5672):
        server = apt_install("rabbitmq-server", "rabbitmq-server")
        subprocess.run([server, "-detached"], check=True, timeout=60)
        wait_for_port(5672, 90)
    yield "pyamqp://guest:guest@127.0.0.1:5672//"


# ─────────────────────────────── PgBouncer ───────────────────────────────

@dataclass
class PgBouncer:
    port: int
    server_url: str  # a SQLAlchemy psycopg URL of the server behind the pooler
    workdir: Path
    process: subprocess.Popen

    def url_for(self, database: str, user: str | None = None) -> str:
        """The pooled psycopg URL of ``database`` (any database of the server; see [databases] *)."""
        server = make_url(self.server_url)
        return server.set(host="127.0.0.1", port=self.port, database=database, query={}).render_as_string(hide_password=False)

    def admin(self, command: str) -> list[dict]:
        """Run a command on PgBouncer's admin console (``SHOW POOLS``, ``SHOW STATS``...)."""
        user = make_url(self.server_url).username or "postgres"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, dbname="pgbouncer", user=user, autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        ) as conn:
            cursor = conn.execute(command)
            names = [c.name for c in cursor.description or []]
            return [dict(zip(names, row)) for row in cursor.fetchall()]


def _server_target(server_url: str) -> tuple[str, int, str, str | None]:
    """host (a socket directory or an address), port, user and password of the server."""
    url = make_url(server_url)
    query = {k: (v if isinstance(v, str) else v[0]) for k, v in url.query.items()}
    host = query.get("host") or url.host or "/tmp"
    return host, url.port or int(query.get("port") or 5432), url.username or "postgres", url.password


def _run_as_user(host: str) -> str:
    """PgBouncer refuses to run as root: run it as the owner of the socket folder, else as postgres/nobody."""
    if host.startswith("/"):
        owner = pwd.getpwuid(os.stat(host).st_uid).pw_name
        if owner != "root":
            return owner
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("no unprivileged user to run pgbouncer as")


@contextlib.contextmanager
def pgbouncer(server_url: str, demo_database: str, pool_size: int = 8,
              round_robin: bool = False) -> Iterator[PgBouncer]:
    """PgBouncer in transaction mode on a free port in front of the test server.
    ``round_robin``: ``server_round_robin = 1``, each transaction (or statement outside one) on the
    next idle server connection, what a busy pool does by chance (the default reuses the last one).

    Every database name is forwarded (``* = ...``); the alias ``prepare_demo`` goes to
    ``demo_database`` through ONE server connection (to show what auto-prepare does there).
    ``max_prepared_statements`` is 0, as on PgBouncer < 1.21 and on most managed poolers.
    """
    binary = apt_install("pgbouncer", "pgbouncer")
    host, server_port, user, password = _server_target(server_url)
    run_as = _run_as_user(host)
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="ap-pgbouncer-"))
    secret = f" password={password}" if password else ""
    (workdir / "userlist.txt").write_text(f'"{user}" "{password or ""}"\n')
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split()[1]
    extra = "max_prepared_statements = 0\n" if tuple(int(p) for p in version.split(".")[:2]) >= (1, 21) else ""
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"prepare_demo = host={host} port={server_port} user={user}{secret} dbname={demo_database} pool_size=1\n"
        f"* = host={host} port={server_port} user={user}{secret}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {workdir / 'userlist.txt'}\n"
        f"admin_users = {user}\nstats_users = {user}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits\n"
        f"server_round_robin = {int(round_robin)}\n"
        f"{extra}"
        f"logfile = {workdir / 'pgbouncer.log'}\npidfile = {workdir / 'pgbouncer.pid'}\n"
    )
    uid = pwd.getpwnam(run_as)
    os.chown(workdir, uid.pw_uid, uid.pw_gid)
    for path in workdir.iterdir():
        os.chown(path, uid.pw_uid, uid.pw_gid)
    process = subprocess.Popen(
        [binary, "-u", run_as, str(workdir / "pgbouncer.ini")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not port_open(port):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (workdir / "pgbouncer.log").read_text() if (workdir / "pgbouncer.log").exists() else ""
                output = process.stdout.read().decode() if process.poll() is not None else ""
                raise RuntimeError(f"pgbouncer did not start: {output}{log}")
            time.sleep(0.1)
        yield PgBouncer(port, server_url, workdir, process)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
        shutil.rmtree(workdir, ignore_errors=True)


