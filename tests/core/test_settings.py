from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.settings import ENV_VARS, Settings, SettingsError, load_settings


def test_defaults_listen_on_loopback_8000(tmp_path: Path) -> None:
    settings = load_settings({"PHR_DATA_DIR": str(tmp_path)})
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.embedded_database
    assert settings.pg_data_dir == tmp_path.resolve() / "pg"


def test_environment_variables_are_parsed(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "PHR_DATA_DIR": str(tmp_path),
            "PHR_HOST": "0.0.0.0",
            "PHR_PORT": "9100",
            "PHR_DATABASE_URL": "postgresql://u:p@db/phr",
            "PHR_MAX_BODY_BYTES": "2048",
        }
    )
    assert (settings.host, settings.port, settings.max_body_bytes) == ("0.0.0.0", 9100, 2048)
    assert not settings.embedded_database


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings({"PHR_DATA_DIR": str(tmp_path)})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


@pytest.mark.parametrize(("var", "value"), [("PHR_PORT", "eighty"), ("PHR_ENV", "staging"), ("PHR_LOG_FORMAT", "xml")])
def test_bad_values_stop_start_up(tmp_path: Path, var: str, value: str) -> None:
    with pytest.raises(SettingsError):
        load_settings({"PHR_DATA_DIR": str(tmp_path), var: value})


def test_production_requires_secrets(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PHR_SECRET_KEY"):
        load_settings({"PHR_ENV": "production", "PHR_DATA_DIR": str(tmp_path)})
    assert not (tmp_path / "secrets.json").exists(), "production never generates secrets"


def test_dev_secrets_are_generated_once_and_kept_private(tmp_path: Path) -> None:
    first = load_settings({"PHR_DATA_DIR": str(tmp_path)})
    second = load_settings({"PHR_DATA_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 40
    assert first.jwt_private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert (first.secret_key, first.jwt_private_key_pem) == (second.secret_key, second.jwt_private_key_pem)
    mode = stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode)
    assert mode == 0o600


def test_environment_secrets_win_over_stored_ones(tmp_path: Path) -> None:
    load_settings({"PHR_DATA_DIR": str(tmp_path)})
    settings = load_settings({"PHR_DATA_DIR": str(tmp_path), "PHR_SECRET_KEY": "from-the-environment"})
    assert settings.secret_key == "from-the-environment"


def test_every_setting_has_an_environment_variable_and_a_readme_row() -> None:
    fields = set(Settings.__struct_fields__)
    assert fields == set(ENV_VARS.values())
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [var for var in ENV_VARS if f"`{var}`" not in readme]
    assert not missing, f"README configuration table lacks {missing}"


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("file-secret\n")
    settings = load_settings(
        {
            "PHR_ENV": "production",
            "PHR_SECRET_KEY_FILE": str(tmp_path / "key"),
            "PHR_JWT_PRIVATE_KEY": "pem",
            "PHR_SMS_SENDER": "http",
            "PHR_SMS_GATEWAY_URL": "https://sms.example/send",
        }
    )
    assert settings.secret_key == "file-secret"
    with pytest.raises(SettingsError, match="PHR_SECRET_KEY_FILE"):
        load_settings({"PHR_SECRET_KEY_FILE": str(tmp_path / "missing"), "PHR_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PHR_ENV": "production", "PHR_SECRET_KEY": "k", "PHR_JWT_PRIVATE_KEY": "p"}, "PHR_SMS_SENDER=http"),
        ({"PHR_SMS_SENDER": "http"}, "PHR_SMS_GATEWAY_URL"),
        ({"PHR_PUSH_SENDER": "fcm"}, "PHR_FCM_CREDENTIALS_FILE"),
        ({"PHR_WORKER_BATCH_SIZE": "501"}, "PHR_WORKER_BATCH_SIZE"),
        ({"PHR_PUSH_RATE_PER_SECOND": "0"}, "PHR_PUSH_RATE_PER_SECOND"),
        (
            {
                "PHR_ENV": "production",
                "PHR_SECRET_KEY": "k",
                "PHR_JWT_PRIVATE_KEY": "p",
                "PHR_SMS_SENDER": "http",
                "PHR_SMS_GATEWAY_URL": "https://sms.example/send",
                "PHR_FCM_URL": "http://127.0.0.1:1/v1/projects/{0}/messages:send",
            },
            "PHR_FCM_URL",
        ),
    ],
)
def test_delivery_settings_that_cannot_work_stop_start_up(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({"PHR_DATA_DIR": str(tmp_path), **env})
