"""The `hub` command line. Each command calls services inside one unit of work."""

from __future__ import annotations

import sys
from typing import Any

import click

from hub.core.access import Actor, Role
from hub.core.config import ConfigError, Settings


def _app() -> Any:
    from hub.app import create_app

    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@click.group()
def main() -> None:
    """MARAC Hub: run, seed and administer the hub."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration to the configured database."""
    from hub.core.migrate import upgrade

    settings = Settings.from_env().resolved()
    if settings.database_url.startswith("sqlite:///"):
        from pathlib import Path

        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True)
    upgrade(settings.database_url)
    click.echo("Database is up to date.")


@main.group()
def demo() -> None:
    """The fictional Northbridge demo area."""


@demo.command("seed")
def demo_seed() -> None:
    """Create the demo area and print its sign-ins (never in production)."""
    from hub import demo as demo_module
    from hub.core.db import unit_of_work

    app = _app()
    settings = app.extensions["hub.settings"]
    with app.app_context():
        try:
            with unit_of_work():
                logins = demo_module.seed(settings)
        except demo_module.DemoRefused as error:
            raise click.ClickException(str(error)) from None
    click.echo("")
    click.echo(f"Demo area ready: {demo_module.AREA}. Every demo account's password is:")
    click.echo(f"    {demo_module.DEMO_PASSWORD}")
    if settings.demo:
        click.echo("Demo accounts skip the second factor while HUB_DEMO=1.")
    click.echo("")
    width = max(len(login.email) for login in logins)
    for login in logins:
        click.echo(f"  {login.email.ljust(width)}  {login.roles} – {login.agency}")
    click.echo("")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the hub with gunicorn."""
    from gunicorn.app.base import BaseApplication

    app = _app()

    class HubServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            # Paths only: query strings could carry search terms.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss')

        def load(self) -> Any:
            return app

    HubServer().run()


@main.group()
def members() -> None:
    """Members of partner agencies."""


@members.command("add")
@click.option("--agency", "agency_name", required=True, help="The agency's name.")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([r.value for r in Role]))
@click.option("--job-title", default="")
def members_add(agency_name: str, name: str, email: str, roles: tuple[str, ...],
                job_title: str) -> None:
    """Add a member and print their one-time sign-in link."""
    from agencies import services
    from hub.auth import services as auth
    from hub.core.db import unit_of_work
    from hub.core.errors import ValidationFailed

    app = _app()
    actor = Actor.system("cli")
    with app.app_context():
        try:
            with unit_of_work():
                agency = services.find_agency_by_name(agency_name)
                if agency is None:
                    raise click.ClickException(f"no agency called {agency_name!r}")
                member = services.add_member(actor, services.MemberData(
                    name=name, email=email, agency_id=agency.id,
                    roles=frozenset(Role(r) for r in roles), job_title=job_title))
                token = auth.create_invitation(actor, member)
        except ValidationFailed as error:
            raise click.ClickException("; ".join(error.errors.values())) from None
    base = app.extensions["hub.settings"].base_url
    click.echo(f"Added {name}. Their one-time sign-in link (valid 7 days):")
    click.echo(f"    {base}/invitation/{token}")


@members.command("disable")
@click.argument("email")
def members_disable(email: str) -> None:
    """Disable a member; their open sessions end at their next request."""
    from agencies import services
    from hub.core.db import unit_of_work

    app = _app()
    with app.app_context(), unit_of_work():
        member = services.find_member_by_email(email)
        if member is None:
            raise click.ClickException("no member with that email address")
        services.set_member_disabled(Actor.system("cli"), member, True)
    click.echo("Member disabled.")


@main.group()
def agencies() -> None:
    """Partner agencies."""


@agencies.command("list")
def agencies_list() -> None:
    """List agencies with their type, sector and protocol status."""
    from agencies import services
    from hub.core.clock import today_london
    from hub.core.db import unit_of_work

    app = _app()
    with app.app_context(), unit_of_work():
        for agency in services.list_agencies():
            isp = "ISP current" if agency.has_current_isp(today_london()) else "ISP NOT current"
            state = " (disabled)" if agency.is_disabled else ""
            click.echo(f"{agency.id:>4}  {agency.name}{state} – {agency.agency_type.label}, "
                       f"{agency.agency_sector.label}, {isp}")


@main.command("scheduler")
def scheduler_command() -> None:
    """Run the one scheduler process (jobs and the ledger sealer); a second one waits."""
    from hub import scheduler

    app = _app()
    click.echo("Scheduler starting (a second scheduler waits until this one stops).")
    scheduler.run(app, announce=lambda: click.echo("Scheduler is running."))


@main.group()
def audit() -> None:
    """The disclosure ledger: seal, sign, export, verify, prove."""


@audit.command("status")
def audit_status() -> None:
    """Show the ledger's size, what is waiting to be sealed, and the latest checkpoint."""
    from audit import services
    from hub.core.db import unit_of_work

    app = _app()
    with unit_of_work(app.extensions["hub.db"]) as uow:
        state = services.status(uow.session)
    click.echo(f"sealed entries:     {state.size}")
    click.echo(f"waiting to seal:    {state.unsealed}")
    if state.oldest_unsealed_at:
        click.echo(f"oldest waiting:     {state.oldest_unsealed_at.isoformat()}")
    click.echo(f"latest checkpoint:  size {state.checkpoint_size}"
               + (f", signed {state.checkpoint_at.isoformat()}" if state.checkpoint_at else ""))


@audit.command("seal")
def audit_seal() -> None:
    """Seal committed entries now (PostgreSQL; SQLite seals as it writes)."""
    from audit import services

    app = _app()
    count = services.seal(app.extensions["hub.db"])
    click.echo(f"Sealed {count} entries.")


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the ledger now and print it."""
    from audit import services
    from hub.core.db import unit_of_work

    app = _app()
    services.seal(app.extensions["hub.db"])
    with unit_of_work(app.extensions["hub.db"]) as uow:
        signed = services.sign_checkpoint(uow.session, app.ledger_key(), force=True)
        text = signed.note.decode() if signed else ""
    click.echo(text, nl=False)


@audit.command("export")
@click.argument("out", type=click.Path(file_okay=False))
def audit_export(out: str) -> None:
    """Write an offline-verifiable bundle: entries, leaf hashes, checkpoints, public key."""
    from pathlib import Path

    from audit import services
    from hub.core.db import unit_of_work

    app = _app()
    database = app.extensions["hub.db"]
    services.seal(database)
    with unit_of_work(database) as uow:
        services.sign_checkpoint(uow.session, app.ledger_key())
    with unit_of_work(database) as uow:
        count = services.export_bundle(uow.session, app.ledger_key(), Path(out))
        from audit.ledger import record_in

        record_in(uow.session, Actor.system("cli"), "ledger:exported", None, {"entries": count})
    click.echo(f"Exported {count} entries to {out}. Verify with: hub audit verify {out}")


@audit.command("verify", context_settings={"ignore_unknown_options": True})
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.option("--progress/--no-progress", default=None, help="Show a progress bar.")
def audit_verify(bundle: str, progress: bool | None) -> None:
    """Check a bundle offline: every entry, checkpoint signature and consistency."""
    from audit import verifier

    args = [bundle] + (["--progress"] if progress else [])
    sys.exit(verifier.main(args))


@audit.command("prove")
@click.argument("index", type=int)
def audit_prove(index: int) -> None:
    """Print an inclusion proof of one entry against the latest checkpoint (JSON)."""
    import json

    from audit import services
    from hub.core.db import unit_of_work

    app = _app()
    with unit_of_work(app.extensions["hub.db"]) as uow:
        proof = services.prove_inclusion(uow.session, index)
    if proof is None:
        raise click.ClickException("no checkpoint covers that index yet (try hub audit checkpoint)")
    click.echo(json.dumps(proof.as_json(), indent=2))


if __name__ == "__main__":
    sys.exit(main())
