"""`phr serve` on a bare data folder: embedded PostgreSQL, migrations, demo data, and a ready API."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_starts_embedded_database_and_answers_ready(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHR_")}
    env |= {"PHR_DATA_DIR": str(tmp_path / "data"), "PHR_PORT": str(port), "PHR_LOG_FORMAT": "json"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code
                if status == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert status == 200, "the service never became ready"
        docs = httpx.get(f"http://127.0.0.1:{port}/schema/openapi.json", timeout=5)
        assert "/health/ready" in docs.json()["paths"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    assert f"http://127.0.0.1:{port}/schema" in output
    assert "bs.demo" in output, "demo logins are printed"
    assert '"demo data seeded"' in output or "demo data seeded" in output
    assert (tmp_path / "data" / "secrets.json").exists()
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists(), "the embedded server stops with the service"
