"""The demo area's agency with its own sign-in: Northbridge Police through the dev IdP.

``make run`` starts ``tools/dev-idp`` with ``northbridge.json`` on http://127.0.0.1:9000 and
gives the hub the client secret in HUB_DEMO_IDP_SECRET. The police demo people sign in
there (same password as every demo account); their groups decide their hub roles.
"""

from __future__ import annotations

import shutil

from agencies import services as agencies
from hub.auth import identity
from hub.core.access import Actor
from hub.core.config import Settings

AGENCY = "Northbridge Police"
ISSUER = "http://127.0.0.1:9000"
CLIENT_ID = "marac-hub-demo"
#: The NAME of the variable `make run` sets for the hub; the secret is in northbridge.json.
SECRET_ENV = "HUB_DEMO_IDP_SECRET"  # noqa: S105 (the variable's name, not the secret)
ROLE_MAPPING = {
    "marac-practitioners": "practitioner",
    "marac-reps": "marac_rep",
    "marac-chairs": "chair",
}
RECORDS_SYSTEM = ("northbridge-police-records", "Northbridge Police records system")


def seed_identity_providers(settings: Settings, *, node_available: bool | None = None) -> list[str]:
    """Give Northbridge Police its provider and an API client; running twice changes nothing.

    Without Node.js (so no dev IdP) no provider is created, and the police demo people sign
    in with their demo passwords (an agency with a provider, even one switched off, never
    takes hub passwords). Returns lines to show the user.
    """
    if settings.is_production:
        return []
    agency = agencies.find_agency_by_name(AGENCY)
    if agency is None:
        return []
    actor = Actor.system("demo-seed")
    notes = []
    provider = identity.provider_for_agency(agency.id)
    available = shutil.which("node") is not None if node_available is None else node_available
    if provider is None and not available:
        notes.append(
            f"{AGENCY} signs in with demo passwords (no dev identity provider: Node.js was "
            "not found)."
        )
    elif provider is None:
        provider = identity.add_provider(
            actor,
            agency,
            identity.ProviderData(
                issuer=ISSUER,
                client_id=CLIENT_ID,
                client_secret_env=SECRET_ENV,
                scopes="openid email profile groups",
                roles_claim="groups",
                role_mapping=ROLE_MAPPING,
                trust_role_mapping=True,
            ),
        )
    if provider is not None and provider.is_disabled:
        notes.append(f"{AGENCY}'s dev identity provider is switched off.")
    elif provider is not None:
        notes.append(
            f"{AGENCY} signs in through the dev identity provider at {ISSUER}: choose "
            f"'{AGENCY}' on the sign-in page (police demo passwords do not work there)."
        )
    client_id, name = RECORDS_SYSTEM
    if not any(c.client_id == client_id for c in identity.list_api_clients(agency.area_id)):
        identity.add_api_client(
            actor,
            identity.ApiClientData(
                agency_id=agency.id,
                client_id=client_id,
                name=name,
                scopes=frozenset({"referrals:read", "referrals:write"}),
            ),
        )
    return notes
