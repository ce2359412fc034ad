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
