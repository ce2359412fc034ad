"""Configuration from the environment; production refuses unsafe settings."""

from __future__ import annotations

import pytest

from hub.app import create_app
from hub.core.config import ConfigError, Settings


def test_sqlite_in_the_instance_folder_is_the_default(tmp_path) -> None:
    settings = Settings.from_env({"HUB_INSTANCE_PATH": str(tmp_path)}).resolved()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve()}/hub.sqlite3"
    assert not settings.is_production


def test_production_refuses_to_start_without_a_secret_key(tmp_path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(Settings.from_env({"HUB_ENV": "production", "HUB_INSTANCE_PATH": str(tmp_path)}))


def test_production_refuses_to_start_with_demo_sign_ins(tmp_path) -> None:
    with pytest.raises(ConfigError, match="HUB_DEMO"):
        Settings.from_env(
            {
                "HUB_ENV": "production",
                "SECRET_KEY": "k" * 40,
                "HUB_DEMO": "1",
                "HUB_LEDGER_SIGNING_KEY": "x",
                "HUB_INSTANCE_PATH": str(tmp_path),
            }
        ).resolved()


def test_production_uses_secure_host_only_cookies(tmp_path) -> None:
    settings = Settings.from_env(
        {
            "HUB_ENV": "production",
            "SECRET_KEY": "k" * 40,
            "HUB_LEDGER_SIGNING_KEY": "x",
            "HUB_INSTANCE_PATH": str(tmp_path),
        }
    )
    assert settings.cookie_secure


@pytest.mark.parametrize(
    ("name", "value"),
    [("HUB_DEMO", "perhaps"), ("HUB_SESSION_IDLE_MINUTES", "soon"), ("HUB_ENV", "staging")],
)
def test_nonsense_settings_fail_loudly(name, value) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({name: value})


def test_off_production_the_generated_secret_is_shared_by_every_process(tmp_path) -> None:
    first = Settings.from_env({"HUB_INSTANCE_PATH": str(tmp_path)}).resolved()
    second = Settings.from_env({"HUB_INSTANCE_PATH": str(tmp_path)}).resolved()
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


SAFE_PRODUCTION = {
    "HUB_ENV": "production",
    "SECRET_KEY": "k" * 40,
    "HUB_LEDGER_SIGNING_KEY": "x",
    "HUB_BASE_URL": "https://marac.example.gov.uk",
    "DATABASE_URL": "postgresql+psycopg://hub@db.example/hub",
}


def test_production_starts_with_safe_settings(tmp_path) -> None:
    settings = Settings.from_env({**SAFE_PRODUCTION, "HUB_INSTANCE_PATH": str(tmp_path)})
    assert settings.resolved().cookie_secure


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"HUB_COOKIE_SECURE": "0"}, "HUB_COOKIE_SECURE"),
        ({"HUB_BASE_URL": "http://marac.example.gov.uk"}, "HUB_BASE_URL"),
        ({"HUB_LOGIN_MAX_FAILURES": "0"}, "HUB_LOGIN_MAX_FAILURES"),
        ({"HUB_LOGIN_LOCKOUT_MINUTES": "0"}, "HUB_LOGIN_LOCKOUT_MINUTES"),
        ({"HUB_LOGIN_MAX_FAILURES": "1000"}, "HUB_LOGIN_MAX_FAILURES"),
        ({"HUB_SMTP_USERNAME": "hub", "HUB_SMTP_PASSWORD": "pw"}, "HUB_SMTP_TLS"),
        ({"DATABASE_URL": ""}, "SQLite"),
        ({"DATABASE_URL": "sqlite:////srv/hub.sqlite3"}, "DATABASE_URL"),
    ],
    ids=[
        "insecure-cookie",
        "http-base-url",
        "lockout-off-by-failures",
        "lockout-off-by-minutes",
        "lockout-too-lax",
        "smtp-password-in-clear",
        "default-sqlite",
        "sqlite",
    ],
)
def test_production_refuses_each_insecure_setting_by_name(
    tmp_path, changes: dict[str, str], named: str
) -> None:
    environ = {**SAFE_PRODUCTION, **changes, "HUB_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigError, match=named):
        create_app(Settings.from_env(environ))


def test_smtp_credentials_with_tls_are_fine_in_production(tmp_path) -> None:
    environ = {
        **SAFE_PRODUCTION,
        "HUB_SMTP_USERNAME": "hub",
        "HUB_SMTP_PASSWORD": "pw",
        "HUB_SMTP_TLS": "starttls",
        "HUB_INSTANCE_PATH": str(tmp_path),
    }
    assert Settings.from_env(environ).resolved().smtp_tls == "starttls"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HUB_SESSION_MAX_HOURS", "0"),
        ("HUB_SESSION_MAX_HOURS", "100"),
        ("HUB_OIDC_CACHE_SECONDS", "5"),
        ("HUB_OIDC_CACHE_SECONDS", "86400"),
        ("HUB_LOGIN_MAX_FAILURES", "-1"),
    ],
)
def test_out_of_range_sign_in_settings_fail_loudly(tmp_path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value, "HUB_INSTANCE_PATH": str(tmp_path)}).resolved()
