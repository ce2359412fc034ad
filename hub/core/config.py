"""Configuration from the environment (12-factor); the README's table lists every setting."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(RuntimeError):
    """The configuration cannot run safely; the process refuses to start."""


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"expected a yes/no value, got {value!r}")


def _int(name: str, value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None


def _instance_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    """Every setting the hub reads, with its default; the README's table mirrors this."""

    env: str = "development"
    secret_key: str = ""
    database_url: str = ""
    instance_path: str = "instance"
    demo: bool = False
    base_url: str = "http://127.0.0.1:5000"
    cookie_secure: bool = False
    session_idle_minutes: int = 15
    #: Signed-in pages warn this long before the idle end, with a choice to stay signed in.
    session_warning_seconds: int = 120
    #: A session ends this long after sign-in, however busy it is.
    session_max_hours: int = 12
    step_up_minutes: int = 10
    login_max_failures: int = 5
    login_lockout_minutes: int = 15
    max_request_bytes: int = 1_048_576
    ratelimit_storage_uri: str = "memory://"
    ledger_origin: str = "marac-hub.example/ledger"
    ledger_signing_key: str = ""
    ledger_signing_key_file: str = ""
    #: Minutes between signed checkpoints; one older than twice this is an alert.
    ledger_checkpoint_minutes: int = 5
    #: Seconds an entry may wait between its commit and its seal before it is an alert.
    ledger_max_seal_lag_seconds: int = 60
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_tls: str = "none"
    smtp_username: str = ""
    smtp_password: str = ""
    mail_sender: str = "MARAC Hub <no-reply@marac-hub.example>"
    #: Seconds to wait for the mail server before giving up on one message.
    smtp_timeout_seconds: int = 10
    #: Remind a task's owner this many working days before its due date.
    task_reminder_working_days: int = 1
    #: Escalate a task to the agency's MARAC representatives once it is this many working
    #: days overdue.
    task_escalate_after_working_days: int = 1
    #: Hour of the day (Europe/London) from which daily digests go out.
    digest_hour: int = 7
    log_level: str = "INFO"
    #: The hub API's identifier: the `aud` its bearer tokens must carry.
    api_audience: str = "urn:marac-hub:api"
    #: Seconds to wait for an identity provider (discovery, keys, tokens, userinfo).
    oidc_timeout_seconds: int = 10
    #: Seconds a provider's discovery document and key set are trusted before being fetched
    #: again: a key the provider withdraws is refused at most this long after.
    oidc_cache_seconds: int = 300
    #: PEM private key(s) for private_key_jwt client authentication; the first one signs,
    #: all are published. Generated into the instance folder off production.
    oidc_client_key_file: str = ""
    #: PEM certificate(s) of those keys, for providers that identify keys by certificate.
    oidc_client_cert_file: str = ""
    #: This hub's identifier towards other hubs (transfers between hubs); its base URL by
    #: default. It is what other hubs' trust lists name it by.
    hub_id: str = ""
    #: The hub's own name for other hubs (shown on their transfer pages).
    hub_name: str = "MARAC Hub"
    #: JSON key set of this hub's private transfer keys (one to sign, one to decrypt).
    #: Generated into the instance folder off production.
    transfer_keys_file: str = ""
    #: JSON trust list of the other hubs: identifier, name, address, public keys, areas.
    trusted_hubs_file: str = ""
    #: Hours a sealed transfer package stays valid; a later one is refused as expired.
    transfer_package_hours: int = 72
    #: The transfer timers: send the pack within this many working days of starting the
    #: transfer, acknowledge an arrived one within this many (then a task is raised).
    transfer_send_working_days: int = 1
    transfer_acknowledge_working_days: int = 2
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read settings from environment variables, failing loudly on nonsense."""
        env = dict(os.environ if environ is None else environ)
        hub_env = env.get("HUB_ENV", "development").strip().lower()
        if hub_env not in {"development", "test", "production"}:
            raise ConfigError("HUB_ENV must be development, test or production")
        instance = env.get("HUB_INSTANCE_PATH") or str(Path.cwd() / "instance")
        production = hub_env == "production"
        return cls(
            env=hub_env,
            secret_key=env.get("SECRET_KEY", ""),
            database_url=env.get("DATABASE_URL", ""),
            instance_path=instance,
            demo=_bool(env.get("HUB_DEMO"), False),
            base_url=env.get("HUB_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
            cookie_secure=_bool(env.get("HUB_COOKIE_SECURE"), production),
            session_idle_minutes=_int(
                "HUB_SESSION_IDLE_MINUTES", env.get("HUB_SESSION_IDLE_MINUTES"), 15
            ),
            session_warning_seconds=_int(
                "HUB_SESSION_WARNING_SECONDS", env.get("HUB_SESSION_WARNING_SECONDS"), 120
            ),
            session_max_hours=_int("HUB_SESSION_MAX_HOURS", env.get("HUB_SESSION_MAX_HOURS"), 12),
            step_up_minutes=_int("HUB_STEP_UP_MINUTES", env.get("HUB_STEP_UP_MINUTES"), 10),
            login_max_failures=_int("HUB_LOGIN_MAX_FAILURES", env.get("HUB_LOGIN_MAX_FAILURES"), 5),
            login_lockout_minutes=_int(
                "HUB_LOGIN_LOCKOUT_MINUTES", env.get("HUB_LOGIN_LOCKOUT_MINUTES"), 15
            ),
            max_request_bytes=_int(
                "HUB_MAX_REQUEST_BYTES", env.get("HUB_MAX_REQUEST_BYTES"), 1_048_576
            ),
            ratelimit_storage_uri=env.get("HUB_RATELIMIT_STORAGE_URI", "memory://"),
            ledger_origin=env.get("HUB_LEDGER_ORIGIN", "marac-hub.example/ledger"),
            ledger_signing_key=env.get("HUB_LEDGER_SIGNING_KEY", ""),
            ledger_signing_key_file=env.get("HUB_LEDGER_SIGNING_KEY_FILE", ""),
            ledger_checkpoint_minutes=_int(
                "HUB_LEDGER_CHECKPOINT_MINUTES", env.get("HUB_LEDGER_CHECKPOINT_MINUTES"), 5
            ),
            ledger_max_seal_lag_seconds=_int(
                "HUB_LEDGER_MAX_SEAL_LAG_SECONDS", env.get("HUB_LEDGER_MAX_SEAL_LAG_SECONDS"), 60
            ),
            smtp_host=env.get("HUB_SMTP_HOST", "127.0.0.1"),
            smtp_port=_int("HUB_SMTP_PORT", env.get("HUB_SMTP_PORT"), 1025),
            smtp_tls=env.get("HUB_SMTP_TLS", "none"),
            smtp_username=env.get("HUB_SMTP_USERNAME", ""),
            smtp_password=env.get("HUB_SMTP_PASSWORD", ""),
            mail_sender=env.get("HUB_MAIL_SENDER", "MARAC Hub <no-reply@marac-hub.example>"),
            smtp_timeout_seconds=_int(
                "HUB_SMTP_TIMEOUT_SECONDS", env.get("HUB_SMTP_TIMEOUT_SECONDS"), 10
            ),
            task_reminder_working_days=_int(
                "HUB_TASK_REMINDER_WORKING_DAYS", env.get("HUB_TASK_REMINDER_WORKING_DAYS"), 1
            ),
            task_escalate_after_working_days=_int(
                "HUB_TASK_ESCALATE_AFTER_WORKING_DAYS",
                env.get("HUB_TASK_ESCALATE_AFTER_WORKING_DAYS"),
                1,
            ),
            digest_hour=_int("HUB_DIGEST_HOUR", env.get("HUB_DIGEST_HOUR"), 7),
            log_level=env.get("HUB_LOG_LEVEL", "INFO").upper(),
            api_audience=env.get("HUB_API_AUDIENCE", "urn:marac-hub:api").strip(),
            oidc_timeout_seconds=_int(
                "HUB_OIDC_TIMEOUT_SECONDS", env.get("HUB_OIDC_TIMEOUT_SECONDS"), 10
            ),
            oidc_cache_seconds=_int(
                "HUB_OIDC_CACHE_SECONDS", env.get("HUB_OIDC_CACHE_SECONDS"), 300
            ),
            oidc_client_key_file=env.get("HUB_OIDC_CLIENT_KEY_FILE", "").strip(),
            oidc_client_cert_file=env.get("HUB_OIDC_CLIENT_CERT_FILE", "").strip(),
            hub_id=env.get("HUB_ID", "").strip(),
            hub_name=env.get("HUB_NAME", "MARAC Hub").strip() or "MARAC Hub",
            transfer_keys_file=env.get("HUB_TRANSFER_KEYS_FILE", "").strip(),
            trusted_hubs_file=env.get("HUB_TRUSTED_HUBS_FILE", "").strip(),
            transfer_package_hours=_int(
                "HUB_TRANSFER_PACKAGE_HOURS", env.get("HUB_TRANSFER_PACKAGE_HOURS"), 72
            ),
            transfer_send_working_days=_int(
                "HUB_TRANSFER_SEND_WORKING_DAYS", env.get("HUB_TRANSFER_SEND_WORKING_DAYS"), 1
            ),
            transfer_acknowledge_working_days=_int(
                "HUB_TRANSFER_ACKNOWLEDGE_WORKING_DAYS",
                env.get("HUB_TRANSFER_ACKNOWLEDGE_WORKING_DAYS"),
                2,
            ),
        )

    @property
    def lockout_enabled(self) -> bool:
        """Zero failures or zero minutes switches the lockout off (never in production)."""
        return self.login_max_failures > 0 and self.login_lockout_minutes > 0

    def resolved(self) -> Settings:
        """Fill derived defaults and refuse unsafe combinations."""
        from dataclasses import replace

        database_url = self.database_url or (
            "sqlite:///" + str(Path(self.instance_path).resolve() / "hub.sqlite3")
        )
        secret = self.secret_key
        if self.is_production:
            if not secret or len(secret) < 32:
                raise ConfigError("production needs SECRET_KEY of at least 32 characters")
            if self.demo:
                raise ConfigError("production refuses to start with HUB_DEMO enabled")
            if not (self.ledger_signing_key or self.ledger_signing_key_file):
                raise ConfigError(
                    "production needs HUB_LEDGER_SIGNING_KEY or HUB_LEDGER_SIGNING_KEY_FILE"
                )
            self._refuse_insecure_production(database_url)
        elif not secret:
            # Off production, keep a generated key in the instance folder so every worker
            # process (and a restart) shares it.
            secret = _instance_secret(Path(self.instance_path) / "secret_key")
        if not self.api_audience:
            raise ConfigError("HUB_API_AUDIENCE must not be empty")
        if not 1 <= self.oidc_timeout_seconds <= 120:
            raise ConfigError("HUB_OIDC_TIMEOUT_SECONDS must be from 1 to 120")
        if not 10 <= self.oidc_cache_seconds <= 3600:
            raise ConfigError("HUB_OIDC_CACHE_SECONDS must be from 10 to 3600")
        if not 1 <= self.session_max_hours <= 72:
            raise ConfigError("HUB_SESSION_MAX_HOURS must be from 1 to 72")
        if not 1 <= self.session_idle_minutes <= 24 * 60:
            raise ConfigError("HUB_SESSION_IDLE_MINUTES must be from 1 to 1440")
        if not 5 <= self.session_warning_seconds <= 600:
            raise ConfigError("HUB_SESSION_WARNING_SECONDS must be from 5 to 600")
        if self.login_max_failures < 0 or self.login_lockout_minutes < 0:
            raise ConfigError(
                "HUB_LOGIN_MAX_FAILURES and HUB_LOGIN_LOCKOUT_MINUTES must not be negative"
            )
        if self.smtp_tls not in {"none", "starttls", "ssl"}:
            raise ConfigError("HUB_SMTP_TLS must be none, starttls or ssl")
        if not 1 <= self.smtp_timeout_seconds <= 300:
            raise ConfigError("HUB_SMTP_TIMEOUT_SECONDS must be from 1 to 300")
        if not 0 <= self.task_reminder_working_days <= 20:
            raise ConfigError("HUB_TASK_REMINDER_WORKING_DAYS must be from 0 to 20")
        if not 0 <= self.task_escalate_after_working_days <= 20:
            raise ConfigError("HUB_TASK_ESCALATE_AFTER_WORKING_DAYS must be from 0 to 20")
        if not 1 <= self.ledger_checkpoint_minutes <= 60:
            raise ConfigError("HUB_LEDGER_CHECKPOINT_MINUTES must be from 1 to 60")
        if not 1 <= self.ledger_max_seal_lag_seconds <= 3600:
            raise ConfigError("HUB_LEDGER_MAX_SEAL_LAG_SECONDS must be from 1 to 3600")
        if not 0 <= self.digest_hour <= 23:
            raise ConfigError("HUB_DIGEST_HOUR must be from 0 to 23")
        if not 1 <= self.transfer_package_hours <= 24 * 14:
            raise ConfigError("HUB_TRANSFER_PACKAGE_HOURS must be from 1 to 336")
        if not 0 <= self.transfer_send_working_days <= 20:
            raise ConfigError("HUB_TRANSFER_SEND_WORKING_DAYS must be from 0 to 20")
        if not 0 <= self.transfer_acknowledge_working_days <= 20:
            raise ConfigError("HUB_TRANSFER_ACKNOWLEDGE_WORKING_DAYS must be from 0 to 20")
        return replace(
            self,
            database_url=database_url,
            secret_key=secret,
            hub_id=self.hub_id or self.base_url,
        )

    def _refuse_insecure_production(self, database_url: str) -> None:
        """Refuse each setting that would weaken a production hub, naming it."""
        if not self.cookie_secure:
            raise ConfigError(
                "production refuses HUB_COOKIE_SECURE=0: session cookies must be secure "
                "(HTTPS only, host-only)"
            )
        if not self.base_url.lower().startswith("https://"):
            raise ConfigError(
                f"production refuses HUB_BASE_URL={self.base_url!r}: it must be an https:// address"
            )
        if not self.lockout_enabled:
            raise ConfigError(
                "production refuses sign-in without lockout: HUB_LOGIN_MAX_FAILURES and "
                "HUB_LOGIN_LOCKOUT_MINUTES must both be 1 or more"
            )
        if self.login_max_failures > 20:
            raise ConfigError("production refuses HUB_LOGIN_MAX_FAILURES above 20")
        if (self.smtp_username or self.smtp_password) and self.smtp_tls == "none":
            raise ConfigError(
                "production refuses HUB_SMTP_USERNAME/HUB_SMTP_PASSWORD with HUB_SMTP_TLS=none: "
                "the mail server password would cross the network in clear; use starttls or ssl"
            )
        if database_url.startswith("sqlite"):
            raise ConfigError(
                "production refuses SQLite: set DATABASE_URL to a PostgreSQL database "
                "(postgresql+psycopg://...)"
            )
