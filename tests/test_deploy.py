"""docker-compose.yml and the Dockerfile stay in step with the code (Docker itself is never needed here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api.cli import main
from core.settings import ENV_VARS

ROOT = Path(__file__).resolve().parents[1]
KNOWN = set(ENV_VARS) | {"PHR_SECRET_KEY_FILE", "PHR_JWT_PRIVATE_KEY_FILE", "PHR_SMS_GATEWAY_AUTH_VALUE_FILE"}


def test_compose_runs_postgres_migrate_api_and_worker() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"db", "migrate", "api", "worker"} <= set(services)
    assert services["db"]["image"].startswith("postgres:16")
    commands = {name: services[name]["command"][-1] for name in ("migrate", "api", "worker")}
    assert commands == {"migrate": "migrate", "api": "serve", "worker": "worker"}
    for name in ("migrate", "api", "worker"):
        env = services[name]["environment"]
        assert set(env) <= KNOWN, f"{name} sets unknown variables {set(env) - KNOWN}"
        assert env["PHR_ENV"] == "production"
        assert "PHR_SECRET_KEY" not in env, "secrets come from files, never inline"


@pytest.mark.parametrize("command", ["serve", "worker", "migrate", "seed-demo"])
def test_cli_has_the_commands_compose_and_the_readme_use(command: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0


def test_dockerfile_installs_the_runtime_lock_and_drops_root() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in dockerfile
    assert "\nUSER phr" in dockerfile
    for folder in ("core", "api", "notifications", "migrations"):
        assert f"COPY {folder} ./{folder}" in dockerfile
