"""A throwaway PostgreSQL cluster that a fault test may stop, freeze and restart.

The shared test server (conftest.py) must never go down under the other tests, so an outage test builds its own:
``initdb`` from the binaries the ``pgserver`` package ships, a data folder in a temporary directory, a unix socket
in that folder (no port to collide on), the real migrations. The package itself is not imported: its module
state (a lock in the XDG runtime dir, an atexit hook that stops "its" servers) belongs to the shared server.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psutil
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from core.migrations import upgrade

# PostgreSQL refuses to run as root; pgserver runs it as this system user then, and so do we.
SYSTEM_USER = "pgserver"


def _bin_dir() -> Path:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver package (it ships the PostgreSQL binaries) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _system_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/bin/sh", SYSTEM_USER], check=True, capture_output=True)  # noqa: S603, S607
    return SYSTEM_USER


class ThrowawayPostgres:
    """One cluster in a temporary folder; ``stop``/``start`` simulate an outage, ``freeze`` an unreachable host."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.user = _system_user()
        # Not pytest's tmp_path: its parents are private to root, and the server may run as another user. Short,
        # too: a unix socket path must fit in 107 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="phr-pg-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")

    def _run(self, program: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(  # noqa: S603 - our own binaries, our own arguments
            [str(self.bin / program), *args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            user=self.user,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@/{database}?host={self.root}"

    def start(self) -> None:
        # No TCP listener. fsync off: the data is thrown away, and a killed server loses nothing the OS already
        # holds. synchronous_commit stays on: an acknowledged commit must survive the restarts the tests cause.
        options = f"-h '' -k {self.root} -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session at once (as an orderly failover does); ``immediate`` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def _processes(self) -> list[psutil.Process]:
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        return [postmaster, *postmaster.children(recursive=True)]

    def freeze(self) -> None:
        """Stop every server process (SIGSTOP): connections and queries hang, as behind a network partition."""
        for process in self._processes():
            process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        for process in self._processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    async def create_database(self, name: str = "phr") -> str:
        """A database built by the real migrations; its URL."""
        admin = create_async_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
        engine = create_async_engine(self.url(name), poolclass=NullPool)
        await upgrade(engine)
        await engine.dispose()
        return self.url(name)

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(Exception):
                self.thaw()
            with contextlib.suppress(Exception):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
