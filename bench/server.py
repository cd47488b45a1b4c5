"""The service under test, started the way production starts it: granian, N worker processes, loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class BenchServer:
    """``python -m bench.app`` (production app + the raw baseline route) as a child process."""

    def __init__(self, database_url: str, data_dir: Path, *, workers: int, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = (
            os.environ
            | {
                "PHR_DATABASE_URL": database_url,
                "PHR_DATA_DIR": str(data_dir),
                "PHR_HOST": "127.0.0.1",
                "PHR_PORT": str(self.port),
                "PHR_WORKERS": str(workers),
                # Per-request log lines would measure the terminal, not the service.
                "PHR_LOG_LEVEL": "WARNING",
            }
            | (env or {})
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.app"], cwd=ROOT, env=self.env, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bench server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("the bench server did not become ready in time")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Its own session: the signal reaches granian's worker processes, which are our children too.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.stop()
