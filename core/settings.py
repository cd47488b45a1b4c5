"""Service configuration: one frozen object built from ``PHR_*`` environment variables.

Nothing here is read at import time. ``load_settings()`` is called by the composition root (the CLI or the app
factory) and the result is passed down. In production every secret must come from the environment; in the
embedded/dev mode missing secrets are generated once and persisted in the data folder, so a restart keeps
sessions, hashes and signatures valid.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

Environment = Literal["development", "test", "production"]
SECRETS_FILE = "secrets.json"


class SettingsError(RuntimeError):
    """Configuration is missing or malformed; the process must not start."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    env: Environment = "development"
    # None means "start the embedded PostgreSQL in data_dir/pg" (development only).
    database_url: str | None = None
    data_dir: Path = Path(".phr-data")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "INFO"
    log_format: Literal["console", "json"] = "console"
    max_body_bytes: int = 1_048_576
    db_pool_size: int = 10
    db_max_overflow: int = 10
    # Keyed-hash key for OTP codes, share tokens and refresh tokens (STYLE rule 12).
    secret_key: str = ""
    # PEM of the EC P-256 key that signs access tokens (issue: identity).
    jwt_private_key_pem: str = ""
    # Public PEMs of retired signing keys, still accepted until their last tokens expire (key rotation).
    jwt_previous_public_keys: str = ""
    # May /v1/auth/link create a new citizen (part A) when no record matches? The province decides.
    self_registration: bool = True
    public_base_url: str = "http://127.0.0.1:8000"
    # Delivery (notifications/). "log" and "console" print instead of sending: the development defaults.
    push_sender: Literal["log", "fcm"] = "log"
    fcm_credentials_file: str | None = None  # service-account JSON; its project id is used
    fcm_project_id: str | None = None
    fcm_url: str | None = None  # send-URL override for the fake FCM in tests and benchmarks only
    push_rate_per_second: float = 5000.0  # per worker; the FCM project quota is ~10,000/s
    sms_sender: Literal["console", "http"] = "console"
    sms_gateway_url: str | None = None
    sms_gateway_auth_header: str = "Authorization"
    sms_gateway_auth_value: str = ""
    sms_brandname: str = "PHR"
    sms_gateway_body_template: str | None = None  # JSON with {phone} {phone_local} {text} {brandname} {request_id}
    sms_daily_limit: int = 20000
    worker_batch_size: int = 500
    worker_lease_seconds: int = 120
    worker_poll_seconds: float = 5.0
    # Clinician single sign-on with the province's OpenID Connect provider; unset issuer = feature off.
    oidc_issuer: str | None = None
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    # Must be registered with the provider exactly; default: {public_base_url}/v1/clinician/oidc/callback.
    oidc_redirect_uri: str | None = None
    oidc_scopes: str = "openid profile"
    # Immunization and reminders (core/immunization, notifications/reminders.py).
    immunization_optional_series: str = ""  # comma-separated optional series this province gives, e.g. "ROTA"
    vaccination_reminder_days: int = 2  # days before a dose's due date that the reminder goes (DHIS2 uses 2)
    reminder_sweep_hour: int = 6  # local hour from which the worker runs the daily sweep (sent from 07:00)
    # A campaign stops itself when this many of its messages come back INVALID_ARGUMENT (our bug, not the phones').
    campaign_pause_after_invalid: int = 50

    @property
    def optional_series(self) -> frozenset[str]:
        return frozenset(code.strip().upper() for code in self.immunization_optional_series.split(",") if code.strip())

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def pg_data_dir(self) -> Path:
        return self.data_dir / "pg"


# Environment variable -> (field name, parser). Kept explicit so the README table can be checked against it.
def _int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer") from exc


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false")


def _float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number") from exc


ENV_VARS: dict[str, str] = {
    "PHR_ENV": "env",
    "PHR_DATABASE_URL": "database_url",
    "PHR_DATA_DIR": "data_dir",
    "PHR_HOST": "host",
    "PHR_PORT": "port",
    "PHR_WORKERS": "workers",
    "PHR_LOG_LEVEL": "log_level",
    "PHR_LOG_FORMAT": "log_format",
    "PHR_MAX_BODY_BYTES": "max_body_bytes",
    "PHR_DB_POOL_SIZE": "db_pool_size",
    "PHR_DB_MAX_OVERFLOW": "db_max_overflow",
    "PHR_SECRET_KEY": "secret_key",
    "PHR_JWT_PRIVATE_KEY": "jwt_private_key_pem",
    "PHR_JWT_PREVIOUS_PUBLIC_KEYS": "jwt_previous_public_keys",
    "PHR_SELF_REGISTRATION": "self_registration",
    "PHR_PUBLIC_BASE_URL": "public_base_url",
    "PHR_PUSH_SENDER": "push_sender",
    "PHR_FCM_CREDENTIALS_FILE": "fcm_credentials_file",
    "PHR_FCM_PROJECT_ID": "fcm_project_id",
    "PHR_FCM_URL": "fcm_url",
    "PHR_PUSH_RATE_PER_SECOND": "push_rate_per_second",
    "PHR_SMS_SENDER": "sms_sender",
    "PHR_SMS_GATEWAY_URL": "sms_gateway_url",
    "PHR_SMS_GATEWAY_AUTH_HEADER": "sms_gateway_auth_header",
    "PHR_SMS_GATEWAY_AUTH_VALUE": "sms_gateway_auth_value",
    "PHR_SMS_BRANDNAME": "sms_brandname",
    "PHR_SMS_GATEWAY_BODY_TEMPLATE": "sms_gateway_body_template",
    "PHR_SMS_DAILY_LIMIT": "sms_daily_limit",
    "PHR_WORKER_BATCH_SIZE": "worker_batch_size",
    "PHR_WORKER_LEASE_SECONDS": "worker_lease_seconds",
    "PHR_WORKER_POLL_SECONDS": "worker_poll_seconds",
    "PHR_OIDC_ISSUER": "oidc_issuer",
    "PHR_OIDC_CLIENT_ID": "oidc_client_id",
    "PHR_OIDC_CLIENT_SECRET": "oidc_client_secret",
    "PHR_OIDC_REDIRECT_URI": "oidc_redirect_uri",
    "PHR_OIDC_SCOPES": "oidc_scopes",
    "PHR_IMMUNIZATION_OPTIONAL_SERIES": "immunization_optional_series",
    "PHR_VACCINATION_REMINDER_DAYS": "vaccination_reminder_days",
    "PHR_REMINDER_SWEEP_HOUR": "reminder_sweep_hour",
    "PHR_CAMPAIGN_PAUSE_AFTER_INVALID": "campaign_pause_after_invalid",
}
_INT_FIELDS = {
    "port",
    "workers",
    "max_body_bytes",
    "db_pool_size",
    "db_max_overflow",
    "sms_daily_limit",
    "worker_batch_size",
    "worker_lease_seconds",
    "vaccination_reminder_days",
    "reminder_sweep_hour",
    "campaign_pause_after_invalid",
}
_BOOL_FIELDS = {"self_registration"}
_FLOAT_FIELDS = {"push_rate_per_second", "worker_poll_seconds"}
_SECRET_FIELDS = ("secret_key", "jwt_private_key_pem")
# May be given as PHR_…_FILE.
_FILE_FIELDS = (*_SECRET_FIELDS, "sms_gateway_auth_value", "jwt_previous_public_keys", "oidc_client_secret")


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from the environment (and keyword overrides, for tests), filling dev secrets."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for var, field in ENV_VARS.items():
        raw = environ.get(var)
        if field in _FILE_FIELDS and not raw and environ.get(f"{var}_FILE"):
            # Docker/Kubernetes secrets convention: the variable names a file holding the value.
            raw = _read_secret_file(f"{var}_FILE", environ[f"{var}_FILE"])
        if raw is None or raw == "":
            continue
        if field in _BOOL_FIELDS:
            values[field] = _bool(var, raw)
        else:
            values[field] = (
                _int(var, raw) if field in _INT_FIELDS else _float(var, raw) if field in _FLOAT_FIELDS else raw
            )
    values.update(overrides)
    try:
        settings = msgspec.convert(values, Settings, strict=False, dec_hook=_decode_path)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid configuration: {exc}") from exc
    settings = msgspec.structs.replace(settings, data_dir=Path(settings.data_dir).resolve())

    missing = [f for f in _SECRET_FIELDS if not getattr(settings, f)]
    if missing and settings.env == "production":
        names = ", ".join(var for var, field in ENV_VARS.items() if field in missing)
        raise SettingsError(f"production requires {names}")
    _check_delivery(settings)
    _check_oidc(settings)
    if missing:
        stored = _load_or_create_dev_secrets(settings.data_dir)
        settings = msgspec.structs.replace(settings, **{f: stored[f] for f in missing})
    return settings


def _check_delivery(settings: Settings) -> None:
    if settings.push_sender == "fcm" and not (settings.fcm_credentials_file or settings.fcm_url):
        raise SettingsError("PHR_PUSH_SENDER=fcm needs PHR_FCM_CREDENTIALS_FILE")
    if settings.fcm_url and settings.env == "production":
        raise SettingsError("PHR_FCM_URL is for tests and benchmarks; production sends to Google")
    if settings.sms_sender == "console" and settings.env == "production":
        # The console sender prints OTP codes to the log: a development convenience, a breach in production.
        raise SettingsError("production needs PHR_SMS_SENDER=http (the console sender prints codes to the log)")
    if settings.sms_sender == "http" and not settings.sms_gateway_url:
        raise SettingsError("PHR_SMS_SENDER=http needs PHR_SMS_GATEWAY_URL")
    if not 1 <= settings.worker_batch_size <= 500:
        raise SettingsError("PHR_WORKER_BATCH_SIZE must be 1..500 (FCM takes at most 500 messages per call)")
    if settings.push_rate_per_second <= 0:
        raise SettingsError("PHR_PUSH_RATE_PER_SECOND must be positive")


def _check_oidc(settings: Settings) -> None:
    if settings.oidc_issuer is None:
        return
    if not (settings.oidc_client_id and settings.oidc_client_secret):
        raise SettingsError("PHR_OIDC_ISSUER needs PHR_OIDC_CLIENT_ID and PHR_OIDC_CLIENT_SECRET")
    urls = {"PHR_OIDC_ISSUER": settings.oidc_issuer, "PHR_OIDC_REDIRECT_URI": settings.oidc_redirect_uri or ""}
    for var, url in urls.items():
        if url and not url.startswith(("https://", "http://")):
            raise SettingsError(f"{var} must be an absolute http(s) URL")
        # Codes and ID tokens cross these URLs: plain HTTP is for the loopback fake provider in tests only.
        if url.startswith("http://") and settings.env == "production":
            raise SettingsError(f"{var} must use https in production")
    if "openid" not in settings.oidc_scopes.split():
        raise SettingsError("PHR_OIDC_SCOPES must include openid")


def _read_secret_file(var: str, path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise SettingsError(f"{var} names a file that cannot be read") from exc


def _decode_path(type_: type, value: object) -> object:
    if type_ is Path and isinstance(value, str | Path):
        return Path(value)
    raise NotImplementedError


def _load_or_create_dev_secrets(data_dir: Path) -> dict[str, str]:
    """Generate secrets once per data folder and keep them there (mode 0600)."""
    path = data_dir / SECRETS_FILE
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        if all(stored.get(f) for f in _SECRET_FIELDS):
            return stored
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    stored = {"secret_key": secrets.token_urlsafe(48), "jwt_private_key_pem": pem}
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # Create with 0600 from the start so the secret is never world-readable, then rename atomically.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(stored, fh)
    os.replace(tmp, path)
    return stored
