"""The `hub` command line. Each command calls services inside one unit of work."""

from __future__ import annotations

import sys
from typing import Any

import click

from audit.actions import LedgerAction
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
            parents=True, exist_ok=True
        )
    upgrade(settings.database_url)
    click.echo("Database is up to date.")


@db.command("grant")
@click.option("--app-role", default="marac_app", show_default=True, help="Role of `hub serve`.")
@click.option(
    "--sealer-role", default="marac_sealer", show_default=True, help="Role of `hub scheduler`."
)
def db_grant(app_role: str, sealer_role: str) -> None:
    """Give the application and sealer roles their rights (PostgreSQL; run as the owner).

    Run it after every `hub db upgrade`. The application role reads everything and writes
    the hub's tables, but on the ledger only inserts entries; only the sealer role seals
    and signs. See deploy/runbook-operations.md.
    """
    from sqlalchemy import create_engine

    from hub import dbroles

    settings = Settings.from_env().resolved()
    if not settings.database_url.startswith("postgresql"):
        raise click.ClickException("database roles exist on PostgreSQL only")
    engine = create_engine(settings.database_url, hide_parameters=True)
    try:
        with engine.begin() as conn:
            dbroles.grant(conn, app_role, sealer_role)
    except (LookupError, ValueError) as error:
        raise click.ClickException(str(error)) from None
    finally:
        engine.dispose()
    click.echo(
        f"Granted: {app_role} reads and writes the hub and appends ledger entries; "
        f"{sealer_role} also seals and signs the ledger."
    )


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
            from hub import demo_idp

            with unit_of_work():
                notes = demo_idp.seed_identity_providers(settings)
            from meetings import demo as meetings_demo

            with unit_of_work():
                meeting = meetings_demo.seed_meetings(settings)
                demo_module.seed_second_area_meeting(settings)
                if meeting is not None:
                    notes.append(
                        f"The next Northbridge MARAC meets on "
                        f"{meeting.held_on.strftime('%d %B %Y').lstrip('0')}."
                    )
            with unit_of_work():
                notes.extend(demo_module.seed_cases(settings))
            from hub import demo_history

            with unit_of_work():
                notes.extend(demo_history.seed_history(settings))
        except demo_module.DemoRefused as error:
            raise click.ClickException(str(error)) from None
    click.echo("")
    click.echo(
        f"Demo areas ready: {demo_module.AREA} and {demo_module.SECOND_AREA}. "
        "Every demo account's password is:"
    )
    click.echo(f"    {demo_module.DEMO_PASSWORD}")
    if settings.demo:
        click.echo("Demo accounts skip the second factor while HUB_DEMO=1.")
    for note in notes:
        click.echo(note)
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
    """Serve the hub with gunicorn (its DATABASE_URL: the application role's)."""
    from gunicorn.app.base import BaseApplication

    app = _app()
    _refuse_sealing_rights(app)

    class HubServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            # Paths only: query strings could carry search terms.
            self.cfg.set("access_log_format", '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss')
            # ... and never a secret in a path (invitation links) or a header.
            self.cfg.set("logger_class", "hub.core.logs.AccessLogger")

        def load(self) -> Any:
            return app

    HubServer().run()


def _refuse_sealing_rights(app: Any) -> None:
    """In production on PostgreSQL, the web may not run with a role that can seal."""
    from hub import dbroles

    database = app.extensions["hub.db"]
    if not app.extensions["hub.settings"].is_production or database.dialect != "postgresql":
        return
    with database.engine.connect() as conn:
        writable = dbroles.sealer_tables_writable(conn)
    if writable:
        raise click.ClickException(
            "hub serve refuses to run with a database role that may write "
            f"{', '.join(writable)}: give it the application role's DATABASE_URL "
            "(see deploy/runbook-operations.md)"
        )


@main.group()
def members() -> None:
    """Members of partner agencies."""


@members.command("add")
@click.option("--agency", "agency_name", required=True, help="The agency's name.")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option(
    "--role", "roles", multiple=True, required=True, type=click.Choice([r.value for r in Role])
)
@click.option("--job-title", default="")
def members_add(
    agency_name: str, name: str, email: str, roles: tuple[str, ...], job_title: str
) -> None:
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
                member = services.add_member(
                    actor,
                    services.MemberData(
                        name=name,
                        email=email,
                        agency_id=agency.id,
                        roles=frozenset(Role(r) for r in roles),
                        job_title=job_title,
                    ),
                )
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
            click.echo(
                f"{agency.id:>4}  {agency.name}{state} – {agency.type.label}, "
                f"{agency.agency_sector.label}, {isp}"
            )


@main.command("scheduler")
def scheduler_command() -> None:
    """Run the one scheduler process (jobs and the ledger sealer); a second one waits.

    Its DATABASE_URL is the sealer role's. SIGTERM stops it cleanly (the lock is released
    and the standby leads at once).
    """
    import signal
    import threading

    from hub import dbroles, scheduler

    app = _app()
    database = app.extensions["hub.db"]
    if database.dialect == "postgresql":
        try:
            with database.engine.connect() as conn:
                writable = dbroles.sealer_tables_writable(conn)
        except Exception:  # the database may be down: the scheduler waits for it
            writable = list(dbroles.SEALED_TABLES)
        if set(writable) != set(dbroles.SEALED_TABLES):
            raise click.ClickException(
                "the scheduler's database role may not seal the ledger (it needs INSERT on "
                f"{', '.join(dbroles.SEALED_TABLES)}): give it the sealer role's DATABASE_URL "
                "(see deploy/runbook-operations.md)"
            )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo("Scheduler starting (a second scheduler waits until this one stops).")
    try:
        scheduler.run(
            app,
            stop=stop,
            announce=lambda: click.echo("Scheduler is running.", nl=True),
            on_step_down=lambda why: click.echo(
                f"Scheduler stepped down: {why}. Waiting to lead again."
            ),
        )
    except KeyboardInterrupt:
        stop.set()
    click.echo("Scheduler stopped.")


@main.group()
def retention() -> None:
    """Retention: queue what each area's policy says has expired, destroy what was confirmed."""


@retention.command("run")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Run as if on this London date (default: today).",
)
def retention_run(today: Any) -> None:
    """Do what the nightly job does, now: each area in its own transaction."""
    from retention.jobs import RetentionFailed, run_retention

    app = _app()
    failure = None
    try:
        done = run_retention(
            today=today.date() if today else None,
            database=app.extensions["hub.db"],
            actor=Actor.system("cli"),
        )
    except RetentionFailed as error:
        failure, done = error, error.done
    for area_id, queued, destroyed in done:
        if queued or destroyed:
            click.echo(
                f"Area {area_id}: queued {sum(queued.values())} "
                f"({', '.join(f'{k} {v}' for k, v in sorted(queued.items())) or 'none'}); "
                f"destroyed {sum(destroyed.values())} "
                f"({', '.join(f'{k} {v}' for k, v in sorted(destroyed.items())) or 'none'})."
            )
    click.echo(f"Retention run done for {len(done)} area{'' if len(done) == 1 else 's'}.")
    if failure is not None:
        raise click.ClickException(str(failure))


@main.group()
def audit() -> None:
    """The disclosure ledger: seal, sign, export, verify, prove."""


@audit.command("status")
@click.option(
    "--quick",
    is_flag=True,
    help="Count only the waiting entries an index finds at once (for frequent health checks).",
)
def audit_status(quick: bool) -> None:
    """Show the ledger's size, what waits to be sealed, checkpoints and the horizon.

    Exits with status 1, naming each problem, when an entry has waited longer than
    HUB_LEDGER_MAX_SEAL_LAG_SECONDS to be sealed, when the latest checkpoint is older than
    twice HUB_LEDGER_CHECKPOINT_MINUTES, or when a seal record is one no sealer wrote.
    """
    from audit import health
    from hub.core.clock import now
    from hub.core.db import unit_of_work

    app = _app()
    settings = app.extensions["hub.settings"]
    with unit_of_work(app.extensions["hub.db"]) as uow:
        state = health.check(
            uow.session,
            moment=now(),
            max_seal_lag_seconds=settings.ledger_max_seal_lag_seconds,
            checkpoint_max_age_seconds=2 * 60 * settings.ledger_checkpoint_minutes,
            thorough=not quick,
        )
    click.echo(f"sealed entries:     {state.size}")
    click.echo(f"waiting to seal:    {state.waiting.count}")
    if state.waiting.oldest_at is not None:
        click.echo(
            f"oldest waiting:     {state.waiting.oldest_at.isoformat()} "
            f"({state.oldest_waiting_seconds:.0f} s ago)"
        )
    click.echo(
        f"latest checkpoint:  size {state.checkpoint_size}"
        + (
            f", signed {state.checkpoint_at.isoformat()} "
            f"({(state.checkpoint_age_seconds or 0) / 60:.0f} minutes ago)"
            if state.checkpoint_at
            else ""
        )
    )
    if state.horizon is not None:
        click.echo(f"horizon:            transaction {state.horizon} (all before it sealed)")
    if state.oldest_open is not None:
        open_ = state.oldest_open
        since = f", open since {open_.started_at.isoformat()}" if open_.started_at else ""
        click.echo(
            f"oldest open transaction: process {open_.pid} in database {open_.database!r}"
            f"{since}{f' ({open_.state})' if open_.state else ''}; it holds the horizon back"
        )
    if state.ok:
        click.echo("OK")
        return
    for problem in state.problems:
        click.echo(f"ALERT: {problem}")
    sys.exit(1)


@audit.command("seal")
def audit_seal() -> None:
    """Seal committed entries now (PostgreSQL; SQLite seals as it writes)."""
    from audit import services
    from audit.ledger import SealingRefused

    app = _app()
    try:
        count = services.seal(app.extensions["hub.db"])
    except SealingRefused as refusal:
        raise click.ClickException(f"sealing refused: {refusal}") from None
    click.echo(f"Sealed {count} entries.")


@audit.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the ledger now and print it."""
    from audit import services
    from hub.core.db import unit_of_work

    app = _app()
    _seal_or_warn(app.extensions["hub.db"])
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
    _seal_or_warn(database)
    with unit_of_work(database) as uow:
        services.sign_checkpoint(uow.session, app.ledger_key())
    with unit_of_work(database) as uow:
        count = services.export_bundle(
            uow.session,
            app.ledger_key(),
            Path(out),
            max_seal_lag_seconds=app.extensions["hub.settings"].ledger_max_seal_lag_seconds,
        )
        from audit.ledger import record_in

        record_in(
            uow.session, Actor.system("cli"), LedgerAction.LEDGER_EXPORTED, None, {"entries": count}
        )
    click.echo(f"Exported {count} entries to {out}. Verify with: hub audit verify {out}")


def _seal_or_warn(database: Any) -> None:
    """Seal what is pending; if sealing is refused, say so and go on with what is sealed."""
    from audit import services
    from audit.ledger import SealingRefused

    try:
        services.seal(database)
    except SealingRefused as refusal:
        click.echo(f"WARNING: sealing refused: {refusal}", err=True)


@audit.command("verify", context_settings={"ignore_unknown_options": True})
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.option("--progress/--no-progress", default=None, help="Show a progress bar.")
@click.option(
    "--max-seal-lag",
    type=float,
    default=None,
    help="Seconds an entry may have waited unsealed at export (default: the bundle's limit).",
)
def audit_verify(bundle: str, progress: bool | None, max_seal_lag: float | None) -> None:
    """Check a bundle offline: every entry, checkpoint signature and consistency."""
    from audit import verifier

    args = [bundle] + (["--progress"] if progress else [])
    if max_seal_lag is not None:
        args += ["--max-seal-lag", str(max_seal_lag)]
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


# --- Agencies' own sign-in: identity providers and API clients ------------------------------


@main.group()
def idp() -> None:
    """Agencies' own identity providers (OpenID Connect)."""


def _role_map(pairs: tuple[str, ...], *, option: str = "--map") -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        if option == "--map":
            value, sep, role = pair.rpartition("=")
        else:
            value, sep, role = pair.partition("=")
        if not sep or not value.strip() or not role.strip():
            raise click.BadParameter(f"{pair!r}: write NAME=VALUE", param_hint=option)
        mapping[value.strip()] = role.strip()
    return mapping


@idp.command("add")
@click.option("--agency", "agency_name", required=True, help="The agency's name.")
@click.option("--issuer", required=True, help="Issuer URL, exactly as in the provider's tokens.")
@click.option("--client-id", required=True)
@click.option(
    "--secret-env",
    default="",
    help="NAME of the environment variable holding the client secret (never the secret).",
)
@click.option("--secret-file", default="", help="Path of a file holding the client secret.")
@click.option("--scopes", default="openid email profile", show_default=True)
@click.option("--roles-claim", default="", help="Claim carrying roles or groups.")
@click.option(
    "--map",
    "mappings",
    multiple=True,
    metavar="VALUE=ROLE",
    help="Map a claim value to a hub role (repeatable).",
)
@click.option(
    "--domains", default="", help="Email domains it may vouch for (default: all the agency's)."
)
@click.option(
    "--trust-roles",
    is_flag=True,
    help="Newcomers come in with the mapped roles, "
    "without approval by the agency's MARAC representative.",
)
@click.option(
    "--auth-method",
    default="client_secret_basic",
    show_default=True,
    type=click.Choice(["client_secret_basic", "client_secret_post", "private_key_jwt"]),
    help="How the hub authenticates at the token endpoint, as registered at the provider.",
)
@click.option(
    "--assertion-alg",
    default="",
    help="With private_key_jwt: the signature algorithm registered for the hub (e.g. RS512).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="An extra authorisation parameter sent at every sign-in (repeatable), "
    "e.g. acr_values=AAL3_ANY.",
)
@click.option(
    "--email-from-directory",
    is_flag=True,
    help="The provider's directory owns the agency's email domains: accept an address "
    "without email_verified (Entra ID). Any value but true is still refused.",
)
def idp_add(
    agency_name: str,
    issuer: str,
    client_id: str,
    secret_env: str,
    secret_file: str,
    scopes: str,
    roles_claim: str,
    mappings: tuple[str, ...],
    domains: str,
    trust_roles: bool,
    auth_method: str,
    assertion_alg: str,
    params: tuple[str, ...],
    email_from_directory: bool,
) -> None:
    """Connect an agency's identity provider."""
    from agencies import services as agency_services
    from hub.auth import identity
    from hub.core.db import unit_of_work
    from hub.core.errors import ValidationFailed

    app = _app()
    settings = app.extensions["hub.settings"]
    data = identity.ProviderData(
        issuer=issuer,
        client_id=client_id,
        client_secret_env=secret_env,
        client_secret_file=secret_file,
        scopes=scopes,
        roles_claim=roles_claim,
        role_mapping=_role_map(mappings),
        email_domains=domains,
        trust_role_mapping=trust_roles,
        token_auth_method=auth_method,
        assertion_alg=assertion_alg,
        auth_params=_role_map(params, option="--param"),
        email_verification="directory" if email_from_directory else "claim",
    )
    with app.app_context():
        try:
            with unit_of_work():
                agency = agency_services.find_agency_by_name(agency_name)
                if agency is None:
                    raise click.ClickException(f"no agency called {agency_name!r}")
                identity.add_provider(
                    Actor.system("cli"), agency, data, production=settings.is_production
                )
        except ValidationFailed as error:
            raise click.ClickException("; ".join(error.errors.values())) from None
    click.echo(f"{agency_name} now signs its people in through {issuer}.")
    click.echo("Register these with the provider for the hub's client:")
    click.echo(f"    redirect URI:              {settings.base_url}/auth/callback")
    click.echo(f"    post-logout redirect URI:  {settings.base_url}/signed-out")
    if auth_method == "private_key_jwt":
        click.echo(f"    the hub's public keys:     {settings.base_url}/auth/jwks.json")
    click.echo(f"Then check it: hub idp test {agency_name!r}")


@idp.command("list")
def idp_list() -> None:
    """List identity providers with their issuer, client and secret source."""
    from hub.auth import identity
    from hub.core.db import unit_of_work

    app = _app()
    with app.app_context(), unit_of_work():
        for provider in identity.list_providers():
            state = " (switched off)" if provider.is_disabled else ""
            roles = (
                "roles from the provider"
                if provider.trust_role_mapping
                else ("roles approved by the agency")
            )
            click.echo(
                f"{provider.id:>4}  {provider.agency.name}{state}\n"
                f"      issuer {provider.issuer}, client {provider.client_id}, "
                f"secret from {provider.secret_source}, {roles}"
            )


@idp.command("test")
@click.argument("agency_name")
def idp_test(agency_name: str) -> None:
    """Fetch an agency's provider's discovery and key set now, and report problems plainly."""
    from agencies import services as agency_services
    from hub.auth import identity, oidc
    from hub.core.db import unit_of_work

    app = _app()
    settings = app.extensions["hub.settings"]
    with app.app_context(), unit_of_work():
        agency = agency_services.find_agency_by_name(agency_name)
        provider = identity.provider_for_agency(agency.id) if agency is not None else None
        if provider is None:
            raise click.ClickException(f"{agency_name!r} has no identity provider")
        click.echo(f"Checking {provider.agency.name}'s provider {provider.issuer}")
        findings = oidc.check_provider(
            identity.ProviderConfig.of(provider),
            timeout=settings.oidc_timeout_seconds,
            redirect_uri=settings.base_url + "/auth/callback",
        )
    labels = {"ok": "ok     ", "warning": "warning", "problem": "PROBLEM"}
    for finding in findings:
        click.echo(f"  {labels[finding.level]}  {finding.message}")
    problems = sum(1 for f in findings if f.level == "problem")
    if problems:
        raise click.ClickException(
            f"{problems} problem(s): people cannot sign in through "
            "this provider until they are fixed"
        )
    click.echo("The provider is usable.")


@main.group("api-clients")
def api_clients() -> None:
    """Partner systems that call the hub API with their agency provider's tokens."""


@api_clients.command("add")
@click.option("--agency", "agency_name", required=True, help="The agency's name.")
@click.option("--client-id", required=True, help="The client_id its tokens carry.")
@click.option("--name", required=True, help="What people call the system.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    help="What it may do (repeatable), e.g. referrals:read.",
)
def api_clients_add(agency_name: str, client_id: str, name: str, scopes: tuple[str, ...]) -> None:
    """Register a partner system as an API client of an agency."""
    from agencies import services as agency_services
    from hub.auth import identity
    from hub.core.db import unit_of_work
    from hub.core.errors import ValidationFailed

    app = _app()
    with app.app_context():
        try:
            with unit_of_work():
                agency = agency_services.find_agency_by_name(agency_name)
                if agency is None:
                    raise click.ClickException(f"no agency called {agency_name!r}")
                identity.add_api_client(
                    Actor.system("cli"),
                    identity.ApiClientData(
                        agency_id=agency.id,
                        client_id=client_id,
                        name=name,
                        scopes=frozenset(scopes),
                    ),
                )
        except ValidationFailed as error:
            raise click.ClickException("; ".join(error.errors.values())) from None
    audience = app.extensions["hub.settings"].api_audience
    click.echo(f"{name} may call the API as {agency_name} with tokens for audience {audience}.")


@api_clients.command("list")
def api_clients_list() -> None:
    """List registered API clients."""
    from hub.auth import identity
    from hub.core.db import unit_of_work

    app = _app()
    with app.app_context(), unit_of_work():
        for client in identity.list_api_clients():
            state = " (disabled)" if client.is_disabled else ""
            click.echo(
                f"{client.id:>4}  {client.name}{state} – {client.agency.name}, "
                f"client {client.client_id}, scopes {client.scopes}"
            )


@main.group()
def transfer() -> None:
    """MARAC-to-MARAC transfers: list them, send one, receive a package file."""


def _coordinator_actor(email: str) -> Actor:
    from agencies import services as agency_services

    member = agency_services.find_member_by_email(email)
    if member is None or member.is_disabled:
        raise click.ClickException(f"no enabled member with the address {email!r}")
    return agency_services.actor_for(member)


@transfer.command("list")
@click.option("--as", "email", required=True, help="The coordinator's e-mail address.")
def transfer_list(email: str) -> None:
    """List the transfers in and out of the coordinator's area."""
    from hub.core.db import unit_of_work
    from hub.core.errors import HubError
    from transfers import services

    app = _app()
    with app.app_context(), unit_of_work():
        try:
            rows = services.list_transfers(_coordinator_actor(email))
        except HubError as error:
            raise click.ClickException(error.message) from None
        for row in rows:
            t = row.transfer
            way = "from" if row.incoming else "to  "
            hub = f" on {t.peer_hub}" if t.peer_hub else ""
            receipt = ", receipt kept" if t.receipt else ""
            click.echo(f"{t.label:>8}  {way} {row.other_area}{hub}  {t.status.value}{receipt}")


@transfer.command("send")
@click.option("--as", "email", required=True, help="The sending coordinator's e-mail address.")
@click.option("--case", "reference", default="", help="The case's reference, to start one.")
@click.option("--to", "to_area", default="", help="The receiving MARAC's name.")
@click.option("--hub", "to_hub", default="", help="Its hub's identifier, when not this hub.")
@click.option("--reason", type=click.Choice(["permanent_move", "temporary_move", "refuge"]))
@click.option("--heard-here", type=click.Choice(["yes", "no"]))
@click.option("--agenda-circulated", type=click.Choice(["yes", "no"]))
@click.option("--transfer", "transfer_id", type=int, help="Deliver this sealed transfer again.")
@click.option(
    "--out", type=click.Path(dir_okay=False), help="Write the sealed package here, not push it."
)
def transfer_send(
    email: str,
    reference: str,
    to_area: str,
    to_hub: str,
    reason: str | None,
    heard_here: str | None,
    agenda_circulated: str | None,
    transfer_id: int | None,
    out: str | None,
) -> None:
    """Start and send a transfer; to another hub, push the sealed package (or write it)."""
    from agencies import services as agency_services
    from hub.core.db import unit_of_work
    from hub.core.errors import HubError, ValidationFailed
    from transfers import between, services

    app = _app()
    fed = app.federation()
    with app.app_context():
        try:
            with unit_of_work():
                who = _coordinator_actor(email)
                if transfer_id is None:
                    area = None if to_hub else agency_services.get_area_by_name(to_area)
                    found = services.start_transfer(
                        who,
                        services.find_case(who, reference),
                        services.StartData(
                            to_area_id=area.id if area else None,
                            reason=reason or "",
                            heard_here=heard_here or "",
                            agenda_circulated=agenda_circulated or "",
                            to_hub=to_hub,
                            to_hub_area=to_area if to_hub else "",
                        ),
                        fed.peers,
                    )
                    sent = services.send_transfer(who, found.id, fed)
                    transfer_id = sent.id
                    package, between_hubs = sent.package, sent.between_hubs
                    click.echo(f"Transfer {sent.label} sent to {services.to_name(sent)}.")
                else:
                    existing = services.get_transfer(who, transfer_id)
                    package, between_hubs = existing.package, existing.between_hubs
            if not between_hubs:
                return
            if out:
                with open(out, "w") as handle:
                    handle.write(package + "\n")
                click.echo(f"Sealed package written to {out}; deliver it, never by e-mail.")
                return
            with unit_of_work():
                delivery = between.deliver_transfer(_coordinator_actor(email), transfer_id, fed)
        except ValidationFailed as error:
            raise click.ClickException("; ".join(error.errors.values())) from None
        except HubError as error:
            raise click.ClickException(error.message) from None
    if delivery.problem:
        raise click.ClickException(delivery.problem)
    click.echo(f"Delivered to {to_hub or 'the other hub'}: its signed receipt is kept.")


@transfer.command("receive")
@click.argument("package_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--receipt-out", type=click.Path(dir_okay=False), help="Write the signed receipt here."
)
def transfer_receive(package_file: str, receipt_out: str | None) -> None:
    """Verify a sealed package file against the trust list and file it for its MARAC."""
    from hub.core.db import unit_of_work
    from transfers import between, services

    app = _app()
    fed = app.federation()
    with open(package_file) as handle:
        package = handle.read().strip()
    with app.app_context():
        try:
            with unit_of_work():
                found = between.receive_package(Actor.system("cli"), fed, package)
                label, area = found.transfer.label, services.to_name(found.transfer)
                receipt = found.receipt
        except between.TransferRefused as refused:
            raise click.ClickException(f"refused ({refused.code}): {refused.message}") from None
    click.echo(f"Transfer {label} filed for {area}; its coordinator accepts or declines it.")
    if receipt_out:
        with open(receipt_out, "w") as handle:
            handle.write(receipt + "\n")
        click.echo(f"Signed receipt written to {receipt_out}.")


if __name__ == "__main__":
    sys.exit(main())
