"""The `hub` command line, on each database."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from hub.cli import main


@pytest.fixture
def run(database_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HUB_ENV", "development")
    runner = CliRunner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


def test_demo_seed_is_idempotent_and_prints_sign_ins(run) -> None:
    assert run("db", "upgrade").exit_code == 0
    first = run("demo", "seed")
    assert first.exit_code == 0, first.output
    assert "northbridge-demo-2026" in first.output
    assert "coordinator@csp.northbridge.example" in first.output
    second = run("demo", "seed")
    assert second.exit_code == 0
    assert first.output == second.output
    listing = run("agencies", "list")
    assert listing.output.count("Northbridge Police") == 1
    # Northbridge's 11 agencies and Southport's 4 (the second area, for transfers).
    assert len(listing.output.strip().splitlines()) == 15
    assert "southport.coordinator@csp.southport.example" in first.output


@pytest.mark.postgres_only  # production refuses SQLite before it gets that far
def test_demo_seed_is_refused_in_production(run) -> None:
    result = CliRunner().invoke(
        main,
        ["demo", "seed"],
        env={
            "HUB_ENV": "production",
            "SECRET_KEY": "s" * 40,
            "HUB_LEDGER_SIGNING_KEY": "x",
            "HUB_BASE_URL": "https://hub.example",
        },
    )
    assert result.exit_code != 0
    assert "never available in production" in result.output


def test_members_add_prints_a_one_time_link_and_disable_works(run) -> None:
    run("demo", "seed")
    added = run(
        "members",
        "add",
        "--agency",
        "Northbridge Homes",
        "--name",
        "Nat New",
        "--email",
        "nat@homes.northbridge.example",
        "--role",
        "practitioner",
    )
    assert added.exit_code == 0, added.output
    assert re.search(r"/invitation/[A-Za-z0-9_-]{40,}", added.output)
    duplicate = CliRunner().invoke(
        main,
        [
            "members",
            "add",
            "--agency",
            "Northbridge Homes",
            "--name",
            "Nat",
            "--email",
            "nat@homes.northbridge.example",
            "--role",
            "practitioner",
        ],
    )
    assert duplicate.exit_code != 0 and "already uses this email" in duplicate.output
    assert run("members", "disable", "nat@homes.northbridge.example").exit_code == 0
    unknown = CliRunner().invoke(main, ["members", "disable", "ghost@nowhere.example"])
    assert unknown.exit_code != 0 and "no member" in unknown.output
