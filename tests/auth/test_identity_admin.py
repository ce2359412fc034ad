"""Managing agencies' identity providers and API clients: admin pages, `hub idp`, demo seed."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from agencies import services as agencies
from audit.models import AuditEntry
from hub.auth import identity
from hub.cli import main
from hub.core import db
from hub.core.access import Actor
from tests.support.agencies_sso import HEALTH_SECRET_ENV, Providers
from tests.support.fake_op import FakeProvider
from tests.support.web import sign_in, submit
from tests.support.web import text as raw_text

NEW_PROVIDER = "/admin/identity-providers/new"
ROOT = Path(__file__).resolve().parents[2]


def text(response: Any) -> str:
    return html.unescape(raw_text(response))


@pytest.fixture
def admin(app: Any, world: Any) -> Any:
    browser = app.test_client()
    person = world["admin"]
    assert sign_in(browser, person.email, person.password, person.totp_secret).status_code == 302
    return browser


def _form(agency: int, **changes: Any) -> dict[str, Any]:
    values = {
        "agency_id": str(agency),
        "issuer": "https://login.homes.example/realms/staff",
        "client_id": "marac-hub",
        "client_secret_env": "HUB_IDP_HOMES_SECRET",
        "client_secret_file": "",
        "scopes": "openid email profile",
        "roles_claim": "groups",
        "role_mapping": "staff = practitioner\nreps = marac_rep",
        "email_domains": "",
        "version": "",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_pages_are_for_the_hub_administrator_only(app: Any, world: Any) -> None:
    nurse = app.test_client()
    person = world["nurse"]
    sign_in(nurse, person.email, person.password, person.totp_secret)
    for url in (
        "/admin/identity-providers",
        NEW_PROVIDER,
        "/admin/api-clients",
        "/admin/api-clients/new",
        "/admin/approvals",
    ):
        assert nurse.get(url).status_code == 403, url


def test_the_administrator_connects_a_provider_storing_only_where_the_secret_is(
    admin: Any, world: Any
) -> None:
    homes = world.agencies["housing"]
    saved = submit(admin, NEW_PROVIDER, _form(homes))
    assert saved.status_code == 302, text(saved)
    with db.unit_of_work() as uow:
        provider = uow.session.execute(select(identity.IdentityProvider)).scalar_one()
        assert provider.client_secret_env == "HUB_IDP_HOMES_SECRET"
        assert provider.client_secret_file is None
        assert provider.role_mapping == {"staff": "practitioner", "reps": "marac_rep"}
        assert not provider.trust_role_mapping
        entries = (
            uow.session.execute(select(AuditEntry.body).where(AuditEntry.action == "idp:created"))
            .scalars()
            .all()
        )
        assert [json.loads(e)["agency"] for e in entries] == [homes]
    page = text(admin.get(saved.headers["Location"]))
    assert "http://127.0.0.1:5000/auth/callback" in page  # what the agency must register
    assert "environment variable HUB_IDP_HOMES_SECRET" in page
    # An agency has one provider: it is no longer offered for a new one.
    assert f'value="{homes}"' not in raw_text(admin.get(NEW_PROVIDER))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": "http://login.homes.example"}, "Enter the issuer as an https:// address"),
        ({"issuer": "https://login.homes.example/?tenant=1"}, "without ? or #"),
        ({"client_secret_env": "my-secret-value"}, "not the secret itself"),
        ({"client_secret_file": "/run/secrets/homes"}, "not both"),
        ({"client_secret_env": "", "client_secret_file": "secrets/homes"}, "full path"),
        ({"scopes": "email profile"}, "Scopes must include openid"),
        ({"role_mapping": "staff = admin"}, "cannot be given by a provider"),
        ({"role_mapping": "just words"}, "Line 1: write the claim value"),
        ({"role_mapping": "staff = practitioner", "roles_claim": ""}, "Enter the claim"),
        ({"email_domains": "nhs.test"}, "is not one of Testshire Homes's email domains"),
        ({"role_mapping": "", "trust_role_mapping": "y"}, "Map at least one claim value"),
        ({"agency_id": "0"}, "Select the agency"),
    ],
)
def test_bad_provider_settings_are_refused_with_an_error_summary(
    admin: Any, world: Any, changes: dict[str, Any], message: str
) -> None:
    response = submit(admin, NEW_PROVIDER, _form(world.agencies["housing"], **changes))
    assert response.status_code == 422
    page = text(response)
    assert "There is a problem" in page and message in page
    assert _providers() == 0


def _providers() -> int:
    with db.unit_of_work() as uow:
        return len(uow.session.execute(select(identity.IdentityProvider.id)).all())


def test_an_edit_on_a_stale_page_is_refused(admin: Any, world: Any, providers: Providers) -> None:
    url = f"/admin/identity-providers/{providers.health}"
    with db.unit_of_work():
        provider = identity.get_provider(providers.health)
        stale = provider.version
        form = _form(
            providers.health_agency,
            issuer=provider.issuer,
            client_secret_env=HEALTH_SECRET_ENV,
            version=str(stale),
        )
        del form["agency_id"]
    assert submit(admin, url, form).status_code == 302
    again = submit(admin, url, {**form, "client_id": "other"})
    assert again.status_code == 409 and "Someone else changed" in text(again)


def test_checking_a_provider_reports_plainly(
    admin: Any, world: Any, providers: Providers, fake_provider: int, fake_op: FakeProvider
) -> None:
    good = text(
        submit(
            admin,
            f"/admin/identity-providers/{providers.health}/check",
            {},
            form_url=f"/admin/identity-providers/{providers.health}",
        )
    )
    assert "discovery answered" in good and "signing key(s)" in good
    assert "client secret found in environment variable" in good and "Problem" not in good
    fake_op.jwks_override = {"keys": []}
    with db.unit_of_work():
        fake_id = identity.provider_for_agency(fake_provider).id
    bad = text(
        submit(
            admin,
            f"/admin/identity-providers/{fake_id}/check",
            {},
            form_url=f"/admin/identity-providers/{fake_id}",
        )
    )
    assert "Problem" in bad and "the key set has no signing keys" in bad


def test_switching_a_provider_off_stops_sign_in_through_it(
    admin: Any, client: Any, providers: Providers
) -> None:
    assert (
        submit(
            admin,
            f"/admin/identity-providers/{providers.health}/disabled",
            {"disabled": "yes"},
            form_url=f"/admin/identity-providers/{providers.health}",
        ).status_code
        == 302
    )
    assert f'value="{providers.health_agency}"' not in raw_text(client.get("/sign-in"))
    refused = client.get(f"/sign-in/agency/{providers.health_agency}/start")
    assert refused.status_code == 403 and "switched off" in text(refused)


def test_registering_an_api_client(admin: Any, world: Any) -> None:
    empty = submit(admin, "/admin/api-clients/new", {"agency_id": "0"})
    assert empty.status_code == 422 and "Enter a name for the system" in text(empty)
    saved = submit(
        admin,
        "/admin/api-clients/new",
        {
            "agency_id": str(world.agencies["police"]),
            "name": "Police records system",
            "client_id": "police-records",
            "scopes": ["referrals:read"],
        },
    )
    assert saved.status_code == 302
    listing = text(admin.get("/admin/api-clients"))
    assert "police-records" in listing and "referrals:read" in listing
    twice = submit(
        admin,
        "/admin/api-clients/new",
        {
            "agency_id": str(world.agencies["police"]),
            "name": "Again",
            "client_id": "police-records",
            "scopes": ["referrals:read"],
        },
    )
    assert twice.status_code == 422 and "already has a system with this client ID" in text(twice)


# --- the command line --------------------------------------------------------------------


@pytest.fixture
def run(database_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("HUB_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HUB_ENV", "development")
    runner = CliRunner()

    def invoke(*args: str) -> Any:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return invoke


def test_hub_idp_add_list_and_test(
    run: Any, world: Any, providers: Providers, health_idp: Any
) -> None:
    added = run(
        "idp",
        "add",
        "--agency",
        "Testshire Homes",
        "--issuer",
        "https://login.homes.example",
        "--client-id",
        "marac-hub",
        "--secret-env",
        "HUB_IDP_HOMES_SECRET",
        "--roles-claim",
        "groups",
        "--map",
        "staff=practitioner",
    )
    assert added.exit_code == 0, added.output
    assert "redirect URI:              http://127.0.0.1:5000/auth/callback" in added.output
    refused = run(
        "idp",
        "add",
        "--agency",
        "Testshire IDVA Service",
        "--issuer",
        "https://login.idva.example",
        "--client-id",
        "x",
        "--secret-env",
        "X",
        "--map",
        "staff=admin",
    )
    assert refused.exit_code != 0 and "cannot be given by a provider" in refused.output
    listing = run("idp", "list").output
    assert "Testshire Homes" in listing and "environment variable HUB_IDP_HOMES_SECRET" in listing
    assert "Testshire Hospital" in listing and "roles from the provider" in listing

    checked = run("idp", "test", "Testshire Hospital")
    assert checked.exit_code == 0, checked.output
    assert "discovery answered" in checked.output and "The provider is usable." in checked.output


BROKEN = {
    "not-json": (
        lambda op: {"discovery_override": "<html>Gateway timeout</html>"},
        "discovery is not JSON",
    ),
    "no-endpoints": (
        lambda op: {"discovery_override": {"issuer": op.issuer}},
        "discovery has no authorization_endpoint",
    ),
    "other-issuer": (
        lambda op: {"discovery_override": {"issuer": "https://someone.else"}},
        "names a different issuer",
    ),
    "no-keys": (lambda op: {"jwks_override": {"keys": []}}, "the key set has no signing keys"),
    "only-an-hmac-key": (
        lambda op: {"jwks_override": {"keys": [{"kty": "oct", "k": "c2Vj"}]}},
        "the key set has no signing keys",
    ),
    "key-set-garbage": (lambda op: {"jwks_override": "<html>oops</html>"}, "key set is not JSON"),
}


def _invoke_failing(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 1, result.output
    assert "PROBLEM" in result.output
    return result


@pytest.mark.parametrize("case", list(BROKEN))
def test_hub_idp_test_reports_a_broken_provider(
    run: Any, fake_provider: int, fake_op: FakeProvider, case: str
) -> None:
    make, expected = BROKEN[case]
    for name, value in make(fake_op).items():
        setattr(fake_op, name, value)
    assert expected in _invoke_failing("idp", "test", "Testshire Homes").output


def test_hub_idp_test_reports_an_unreachable_provider(run: Any, world: Any) -> None:
    with db.unit_of_work():
        identity.add_provider(
            Actor.system(),
            agencies.get_agency(world.agencies["idva"]),
            identity.ProviderData(
                issuer="http://127.0.0.1:9", client_id="x", client_secret_env="X"
            ),
        )
    assert (
        "discovery unreachable" in _invoke_failing("idp", "test", "Testshire IDVA Service").output
    )


def test_hub_idp_test_reports_a_missing_client_secret(
    run: Any, fake_provider: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_TEST_FAKE_OP_SECRET")
    result = _invoke_failing("idp", "test", "Testshire Homes")
    assert "discovery answered" in result.output
    assert "client secret: environment variable HUB_TEST_FAKE_OP_SECRET is not set" in (
        result.output
    )


def test_hub_api_clients_add_and_list(run: Any, world: Any) -> None:
    added = run(
        "api-clients",
        "add",
        "--agency",
        "Testshire Police",
        "--client-id",
        "police-records",
        "--name",
        "Police records system",
        "--scope",
        "referrals:read",
    )
    assert added.exit_code == 0 and "urn:marac-hub:api" in added.output
    assert "police-records" in run("api-clients", "list").output


# --- the demo ------------------------------------------------------------------------------


def test_the_demo_gives_northbridge_police_its_provider_once(app: Any, run: Any) -> None:
    from hub import demo_idp

    assert run("demo", "seed").exit_code == 0
    settings = app.extensions["hub.settings"]
    for _ in range(2):
        with db.unit_of_work():
            notes = demo_idp.seed_identity_providers(settings, node_available=True)
    with db.unit_of_work():
        (provider,) = identity.list_providers()
        assert provider.agency.name == "Northbridge Police"
        assert provider.issuer == "http://127.0.0.1:9000"
        assert provider.client_secret_env == "HUB_DEMO_IDP_SECRET"
        assert provider.trust_role_mapping and not provider.is_disabled
        assert [c.client_id for c in identity.list_api_clients()] == ["northbridge-police-records"]
    assert "dev identity provider" in notes[0]
    config = json.loads((ROOT / "tools/dev-idp/northbridge.json").read_text(encoding="utf-8"))
    hub_client = next(c for c in config["clients"] if c["client_id"] == "marac-hub-demo")
    assert "http://127.0.0.1:5000/auth/callback" in hub_client["redirect_uris"]
    police = [u for u in config["users"] if u["email"].endswith("@police.northbridge.example")]
    assert len(police) >= 2 and all(set(u["groups"]) & set(demo_idp.ROLE_MAPPING) for u in police)
