"""Throwaway PostgreSQL and Redis servers in a temp dir, for tests and benchmarks.

Tests use `TEST_DATABASE_URL` / `TEST_REDIS_URL` when given and reachable; otherwise these start real
servers on free loopback ports and stop them at the end. PostgreSQL refuses to run as root, so as root
the cluster is owned by and run as the `postgres` (or `nobody`) user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")


def _run_as(user: str | None, args: list[str], **kw) -> subprocess.CompletedProcess:
    if user:
        args = ["runuser", "-u", user, "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL cluster in a temp dir on a free port; `url(db)` names a database in it."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="chat3d-pg-")))
    user: str | None = None

    def start(self) -> ThrowawayPostgres:
        if os.geteuid() == 0:
            self.user = "postgres" if _user_exists("postgres") else "nobody"
            os.chmod(self.root, 0o777)
            shutil.chown(self.root, user=self.user)
        data = self.root / "data"
        _run_as(self.user, [_pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        _run_as(self.user, [_pg_bin("pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.root / "log"), "-w", "-t", "60", "start"])
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        try:
            _run_as(self.user, [_pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"])
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def restart(self) -> None:
        data = str(self.root / "data")
        _run_as(self.user, [_pg_bin("pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"])
        self.start_existing()

    def stop_only(self) -> None:
        _run_as(self.user, [_pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"])

    def start_existing(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        _run_as(self.user, [_pg_bin("pg_ctl"), "-D", str(self.root / "data"), "-o", opts, "-l", str(self.root / "log"), "-w", "-t", "60", "start"])


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@dataclass
class ThrowawayRedis:
    """A redis-server on a free port with persistence off."""

    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    def start(self) -> ThrowawayRedis:
        exe = shutil.which("redis-server")
        if not exe:
            raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
