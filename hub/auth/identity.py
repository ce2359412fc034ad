"""Agencies' own identity providers, the people who sign in through them, and API clients.

The OpenID Connect protocol itself lives in ``hub.auth.oidc``; this module holds what an agency
configures and the decisions about people: who a verified (issuer, subject) is, whether
they may come in, and which roles their provider's claims give them. Services take the
actor explicitly and never commit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload
from sqlalchemy.orm.exc import StaleDataError

from agencies.models import Agency, Member, MemberStatus
from audit.actions import LedgerAction
from audit.ledger import Subject, record
from hub.core.access import Actor, Permission, Role
from hub.core.clock import now
from hub.core.db import Base, in_own_transaction, session
from hub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

#: Roles an agency's provider may grant. Administration and audit are hub-wide powers an
#: agency's own directory must never hand out.
MAPPABLE_ROLES = (Role.PRACTITIONER, Role.MARAC_REP, Role.COORDINATOR, Role.CHAIR)
#: Roles an agency's MARAC representative may give when approving a newcomer.
REP_APPROVABLE_ROLES = (Role.PRACTITIONER, Role.MARAC_REP)

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,99}$")
_CLAIM_NAME = re.compile(r"^[A-Za-z0-9_.:/#\[\]=-]{1,200}$")
_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,100}$")  # RFC 6749 scope-token characters
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class TokenAuthMethod(StrEnum):
    """How the hub proves it is itself at the provider's token endpoint (RFC 7591 names)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 (a method's name)
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 (a method's name)
    #: A JWT signed with the hub's own private key (published at /auth/jwks.json).
    PRIVATE_KEY_JWT = "private_key_jwt"

    @property
    def label(self) -> str:
        return {
            "client_secret_basic": "Client secret in the Authorization header "
            "(client_secret_basic)",
            "client_secret_post": "Client secret in the request body (client_secret_post)",
            "private_key_jwt": "The hub's own key, no secret (private_key_jwt)",
        }[self.value]

    @property
    def uses_secret(self) -> bool:
        return self is not TokenAuthMethod.PRIVATE_KEY_JWT


class EmailVerification(StrEnum):
    """What makes the email address a provider sends trustworthy enough to link a member."""

    #: The provider must say ``email_verified: true`` (a JSON true, nothing else).
    CLAIM = "claim"
    #: The provider's own directory owns the agency's domains (Entra ID, for one, sends no
    #: email_verified): an absent claim is accepted, any value but true is still refused.
    DIRECTORY = "directory"

    @property
    def label(self) -> str:
        return {
            "claim": "The provider must say the address is verified (email_verified: true)",
            "directory": "The provider's directory owns these email domains "
            "(email_verified may be absent)",
        }[self.value]


#: Signature algorithms the hub's client assertions may use (private_key_jwt).
ASSERTION_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256")

#: Authorisation request parameters the hub sets itself; an extra parameter may not.
RESERVED_PARAMS = frozenset(
    {
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "request",
        "request_uri",
        "response_mode",
        "max_age",
        "registration",
    }
)


class IdentityProvider(Base):
    """An agency's OpenID Connect provider: its people sign in there, not with passwords."""

    __tablename__ = "identity_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: One provider per agency; several agencies may name the same issuer.
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), unique=True)
    #: The issuer identifier, exactly as the provider writes it in `iss` (discovery is found
    #: under it at /.well-known/openid-configuration).
    issuer: Mapped[str] = mapped_column(String(500))
    #: The client id the agency's IT team registered for the hub.
    client_id: Mapped[str] = mapped_column(String(255))
    #: The NAME of the environment variable holding the client secret, never the secret.
    client_secret_env: Mapped[str | None] = mapped_column(String(100))
    #: Or the path of a file holding it (a container secret), never the secret itself.
    client_secret_file: Mapped[str | None] = mapped_column(String(500))
    #: Scopes asked for at sign-in, space-separated; always includes openid.
    scopes: Mapped[str] = mapped_column(String(500), default="openid email profile")
    #: The claim carrying roles or groups (a dotted path reaches nested claims); empty: none.
    roles_claim: Mapped[str] = mapped_column(String(200), default="")
    #: Claim value -> hub role value, e.g. {"marac-reps": "marac_rep"}.
    role_mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: Email domains this provider may vouch for, space-separated; empty: all the agency's.
    email_domains: Mapped[str] = mapped_column(String(500), default="")
    #: When set, the mapping decides roles (newcomers come in at once, roles follow the
    #: provider at every sign-in); otherwise the agency's MARAC representative approves.
    trust_role_mapping: Mapped[bool] = mapped_column(default=False)
    #: How the hub authenticates at the token endpoint: a TokenAuthMethod value.
    token_auth_method: Mapped[str] = mapped_column(
        String(30), default=TokenAuthMethod.CLIENT_SECRET_BASIC.value
    )
    #: For private_key_jwt: the signature algorithm the provider registered for the hub's
    #: assertions (NHS CIS2 wants RS512); empty: RS256, or the first the provider offers.
    assertion_alg: Mapped[str] = mapped_column(String(10), default="")
    #: Extra authorisation request parameters, e.g. {"acr_values": "AAL3_ANY"}.
    auth_params: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    #: An EmailVerification value.
    email_verification: Mapped[str] = mapped_column(
        String(20), default=EmailVerification.CLAIM.value
    )
    #: Set to stop sign-in through this provider (its members cannot sign in meanwhile).
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    #: Optimistic-locking counter, bumped by every change: every process compares it with
    #: the copy it cached the provider's discovery and keys under, at every use.
    version: Mapped[int] = mapped_column(default=1)

    agency: Mapped[Agency] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def domains(self) -> list[str]:
        """The email domains this provider may vouch for."""
        own = [d for d in self.email_domains.split() if d]
        return own or self.agency.domains

    @property
    def auth_method(self) -> TokenAuthMethod:
        return TokenAuthMethod(self.token_auth_method)

    @property
    def secret_source(self) -> str:
        """Where the secret comes from, for people (never the secret)."""
        if not self.auth_method.uses_secret:
            return "none: the hub signs with its own key (private_key_jwt)"
        if self.client_secret_env:
            return f"environment variable {self.client_secret_env}"
        if self.client_secret_file:
            return f"file {self.client_secret_file}"
        return "not set"


@dataclass(frozen=True)
class ProviderConfig:
    """A provider's settings as plain values, for the calls made while no transaction is open.

    Calls to a provider run outside any database transaction (``db.before_outbound_call``),
    so they must not touch ORM rows, which would quietly open one again.
    """

    id: int
    version: int
    agency_id: int
    agency_name: str
    issuer: str
    client_id: str
    client_secret_env: str | None
    client_secret_file: str | None
    token_auth_method: str
    assertion_alg: str
    scopes: str
    auth_params: Mapping[str, str]
    is_disabled: bool
    agency_disabled: bool

    @classmethod
    def of(cls, provider: IdentityProvider) -> ProviderConfig:
        return cls(
            id=provider.id,
            version=provider.version,
            agency_id=provider.agency_id,
            agency_name=provider.agency.name,
            issuer=provider.issuer,
            client_id=provider.client_id,
            client_secret_env=provider.client_secret_env,
            client_secret_file=provider.client_secret_file,
            token_auth_method=provider.token_auth_method,
            assertion_alg=provider.assertion_alg or "",
            scopes=provider.scopes,
            auth_params=dict(provider.auth_params or {}),
            is_disabled=provider.is_disabled,
            agency_disabled=provider.agency.is_disabled,
        )

    @property
    def stamp(self) -> str:
        """What cached discovery and keys are filed under: a saved edit makes them stale."""
        return f"{self.id}.{self.version}"

    @property
    def auth_method(self) -> TokenAuthMethod:
        return TokenAuthMethod(self.token_auth_method)

    @property
    def required_acr(self) -> frozenset[str]:
        """Authentication levels the ID token's acr must name, when acr_values is asked."""
        return frozenset(self.auth_params.get("acr_values", "").split())


class ClaimsSeen(Base):
    """What a provider sent at its latest sign-in, for the administrator building a mapping.

    Codes only: the names of the claims, the values found where the roles claim points,
    and the keys inside a claim that is a list of objects. Never an email, a name or an id.
    """

    __tablename__ = "identity_provider_claims"

    idp_id: Mapped[int] = mapped_column(
        ForeignKey("identity_providers.id", ondelete="CASCADE"), primary_key=True
    )
    seen_at: Mapped[datetime] = mapped_column(default=now)
    #: Top-level claim names in the ID token and userinfo together.
    claim_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The values at the roles claim path (at most 50, each cut to 200 characters).
    role_values: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: For claims that are lists of objects (CIS2's nhsid_nrbac_roles): claim -> its keys.
    nested_keys: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)

    @property
    def nested_text(self) -> str:
        """``claim: key, key; claim: key`` for the administrator's page."""
        return "; ".join(f"{name}: {', '.join(keys)}" for name, keys in self.nested_keys.items())


class IdentityStatus(StrEnum):
    APPROVED = "approved"
    #: Waiting for the agency's MARAC representative.
    PENDING = "pending"
    REFUSED = "refused"


class FederatedIdentity(Base):
    """A person at an agency's provider, keyed on (issuer, subject), never on email."""

    __tablename__ = "federated_identities"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    #: The provider it was first seen through.
    idp_id: Mapped[int] = mapped_column(ForeignKey("identity_providers.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(500))
    #: The provider's stable identifier for the person (`sub`).
    subject: Mapped[str] = mapped_column(String(255))
    #: approved, pending (the MARAC representative decides) or refused.
    status: Mapped[str] = mapped_column(String(20), default=IdentityStatus.PENDING.value)
    #: Roles the provider's mapping suggested at the last sign-in, space-separated, shown
    #: to whoever approves.
    suggested_roles: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=now)
    decided_at: Mapped[datetime | None]
    last_signed_in_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship(lazy="joined")
    provider: Mapped[IdentityProvider] = relationship()

    @property
    def suggested(self) -> frozenset[Role]:
        return frozenset(
            Role(r) for r in self.suggested_roles.split() if r in Role._value2member_map_
        )


class ApiClient(Base):
    """A partner system allowed to call the hub API as its agency's service identity."""

    __tablename__ = "api_clients"
    __table_args__ = (UniqueConstraint("agency_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: The `client_id` (or `azp`) its access tokens carry, as the agency's provider issues it.
    client_id: Mapped[str] = mapped_column(String(255))
    #: What people call it, e.g. "Northbridge Police records system".
    name: Mapped[str] = mapped_column(String(160))
    #: The most it may do, space-separated; a token's own scopes are cut down to these.
    scopes: Mapped[str] = mapped_column(String(500), default="")
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=now)

    agency: Mapped[Agency] = relationship(lazy="joined")

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(self.scopes.split())

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None


#: API scopes a client may be given; each later endpoint declares the one it needs.
API_SCOPES = ("referrals:read", "referrals:write", "returns:read")


# --- Providers ----------------------------------------------------------------------------


def _need(actor: Actor, permission: Permission) -> None:
    if actor.kind != "system" and not actor.can(permission):
        raise Forbidden("You do not have permission to do that.")


@dataclass
class ProviderData:
    issuer: str
    client_id: str
    client_secret_env: str = ""
    client_secret_file: str = ""
    scopes: str = "openid email profile"
    roles_claim: str = ""
    role_mapping: Mapping[str, str] | None = None
    email_domains: str = ""
    trust_role_mapping: bool = False
    token_auth_method: str = TokenAuthMethod.CLIENT_SECRET_BASIC.value
    assertion_alg: str = ""
    auth_params: Mapping[str, str] | None = None
    email_verification: str = EmailVerification.CLAIM.value


def is_acceptable_issuer(issuer: str, *, production: bool) -> bool:
    """HTTPS always; plain HTTP only for a provider on this machine, and never in production."""
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or not parts.hostname:
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and parts.hostname in _LOOPBACK and not production


def _validate_provider(
    agency: Agency, data: ProviderData, *, production: bool, existing_id: int | None = None
) -> None:
    errors: dict[str, str] = {}
    issuer = data.issuer.strip()
    if not issuer:
        errors["issuer"] = "Enter the provider's issuer URL"
    elif len(issuer) > 500 or not is_acceptable_issuer(issuer, production=production):
        errors["issuer"] = (
            "Enter the issuer as an https:// address without ? or #, like "
            "https://login.agency.example/realms/staff"
        )
    client_id = data.client_id.strip()
    if not client_id:
        errors["client_id"] = "Enter the client ID the agency registered for the hub"
    elif len(client_id) > 255:
        errors["client_id"] = "Client ID must be 255 characters or fewer"
    env_name, file_path = data.client_secret_env.strip(), data.client_secret_file.strip()
    method = data.token_auth_method
    if method not in TokenAuthMethod._value2member_map_:
        errors["token_auth_method"] = "Select how the hub authenticates at the token endpoint"  # noqa: S105 (a message)
    elif not TokenAuthMethod(method).uses_secret:
        if env_name or file_path:
            errors["client_secret_env"] = (
                "With private_key_jwt the hub uses its own key: "  # noqa: S105 (a message)
                "leave the client secret empty"
            )
    elif bool(env_name) == bool(file_path):
        errors["client_secret_env"] = (
            "Enter either the environment variable or the file "  # noqa: S105 (a message)
            "that holds the client secret, not both"
        )
    elif env_name and not ENV_NAME.match(env_name):
        errors["client_secret_env"] = (
            "Enter the name of an environment variable in capitals, "  # noqa: S105 (a message)
            "like HUB_IDP_POLICE_SECRET, not the secret itself"
        )
    elif file_path and (not file_path.startswith("/") or len(file_path) > 500):
        errors["client_secret_file"] = "Enter the full path of the secret file, starting with /"  # noqa: S105 (a message)
    scopes = data.scopes.split()
    if "openid" not in scopes:
        errors["scopes"] = "Scopes must include openid"
    elif any(not _SCOPE.match(s) for s in scopes) or len(" ".join(scopes)) > 500:
        errors["scopes"] = "Enter scopes separated by spaces, like openid email profile"
    claim = data.roles_claim.strip()
    if claim and (not _CLAIM_NAME.match(claim) or parse_claim_path(claim) is None):
        errors["roles_claim"] = (
            "Enter a claim name or path like groups, realm_access.roles or "
            "nhsid_nrbac_roles[org_code=RX1].role_code"
        )
    if data.assertion_alg and data.assertion_alg not in ASSERTION_ALGORITHMS:
        errors["assertion_alg"] = "Select a signature algorithm from the list"
    elif data.assertion_alg and method != TokenAuthMethod.PRIVATE_KEY_JWT.value:
        errors["assertion_alg"] = "Choose an algorithm only when the hub signs with its own key"
    if data.email_verification not in EmailVerification._value2member_map_:
        errors["email_verification"] = "Select when the provider's email address is trusted"
    params = dict(data.auth_params or {})
    if len(params) > 10:
        errors["auth_params"] = "Add at most 10 extra parameters"
    for name, value in params.items():
        if not _PARAM_NAME.match(name):
            errors["auth_params"] = (
                f"'{name[:40]}' is not a parameter name: use lower case letters, digits and _"
            )
            break
        if name in RESERVED_PARAMS:
            errors["auth_params"] = f"The hub sets {name} itself: remove it"
            break
        if not value or len(value) > 200 or any(ord(c) < 32 for c in value):
            errors["auth_params"] = f"The value of {name} must be 1 to 200 characters"
            break
    mapping = dict(data.role_mapping or {})
    allowed_roles = {r.value for r in MAPPABLE_ROLES}
    if len(mapping) > 50:
        errors["role_mapping"] = "Map at most 50 claim values"
    for value, role in mapping.items():
        if not value or len(value) > 200:
            errors["role_mapping"] = "Each claim value must be 1 to 200 characters"
            break
        if role not in allowed_roles:
            labels = ", ".join(r.value for r in MAPPABLE_ROLES)
            errors["role_mapping"] = (
                f"'{role[:30]}' cannot be given by a provider: use one of {labels}"
            )
            break
    if mapping and not claim and "roles_claim" not in errors:
        errors["roles_claim"] = "Enter the claim that carries the values you mapped"
    if data.trust_role_mapping and not mapping and "role_mapping" not in errors:
        errors["role_mapping"] = "Map at least one claim value before trusting the mapping"
    own = set(agency.domains)
    for domain in data.email_domains.lower().split():
        if domain not in own:
            errors["email_domains"] = (
                f"'{domain[:60]}' is not one of {agency.name}'s email "
                f"domains ({', '.join(sorted(own)) or 'none set'})"
            )
            break
    clash = (
        session()
        .execute(select(IdentityProvider.id).where(IdentityProvider.agency_id == agency.id))
        .scalar_one_or_none()
    )
    if clash is not None and clash != existing_id:
        errors["agency_id"] = f"{agency.name} already has an identity provider"
    if errors:
        raise ValidationFailed(errors)


def _apply(provider: IdentityProvider, data: ProviderData) -> list[str]:
    values: dict[str, Any] = {
        "issuer": data.issuer.strip(),
        "client_id": data.client_id.strip(),
        "client_secret_env": data.client_secret_env.strip() or None,
        "client_secret_file": data.client_secret_file.strip() or None,
        "scopes": " ".join(data.scopes.split()),
        "roles_claim": data.roles_claim.strip(),
        "role_mapping": dict(data.role_mapping or {}),
        "email_domains": " ".join(data.email_domains.lower().split()),
        "trust_role_mapping": bool(data.trust_role_mapping),
        "token_auth_method": data.token_auth_method,
        "assertion_alg": data.assertion_alg,
        "auth_params": dict(data.auth_params or {}),
        "email_verification": data.email_verification,
    }
    changed = []
    for field, value in values.items():
        if getattr(provider, field) != value:
            setattr(provider, field, value)
            changed.append(field)
    return changed


def add_provider(
    actor: Actor, agency: Agency, data: ProviderData, *, production: bool = False
) -> IdentityProvider:
    """Connect an agency's identity provider; from then on its people sign in there."""
    _need(actor, Permission.IDP_MANAGE)
    _validate_provider(agency, data, production=production)
    provider = IdentityProvider(agency_id=agency.id, agency=agency, role_mapping={}, auth_params={})
    _apply(provider, data)
    session().add(provider)
    session().flush()
    record(
        actor,
        LedgerAction.IDP_CREATED,
        Subject("idp", provider.id),
        agency=agency.id,
        trust_role_mapping=provider.trust_role_mapping,
    )
    return provider


def update_provider(
    actor: Actor,
    provider: IdentityProvider,
    data: ProviderData,
    *,
    version: int,
    production: bool = False,
) -> IdentityProvider:
    """Change a provider's settings, refusing if someone else changed them first."""
    _need(actor, Permission.IDP_MANAGE)
    if provider.version != version:
        raise Conflict(
            "Someone else changed this identity provider while you were editing. "
            "Reload the page to see their changes."
        )
    _validate_provider(provider.agency, data, production=production, existing_id=provider.id)
    changed = _apply(provider, data)
    if changed:
        provider.updated_at = now()
        session().flush()
        record(
            actor,
            LedgerAction.IDP_UPDATED,
            Subject("idp", provider.id),
            agency=provider.agency_id,
            fields=changed,
        )
    return provider


def refresh_provider(actor: Actor, provider: IdentityProvider) -> IdentityProvider:
    """Make every process fetch the provider's discovery document and keys again at once.

    For when the provider changed something the hub cannot see (keys withdrawn after a
    compromise, new endpoints): the new version makes every cached copy stale.
    """
    _need(actor, Permission.IDP_MANAGE)
    provider.updated_at = now()
    session().flush()
    record(
        actor, LedgerAction.IDP_REFRESHED, Subject("idp", provider.id), agency=provider.agency_id
    )
    return provider


def set_provider_disabled(
    actor: Actor, provider: IdentityProvider, disabled: bool
) -> IdentityProvider:
    """Switch sign-in through a provider off (its people's sessions end now) or on again."""
    _need(actor, Permission.IDP_MANAGE)
    if disabled and provider.disabled_at is None:
        provider.disabled_at = now()
        ended = end_agency_sessions(provider.agency_id, "provider_disabled")
        record(
            actor,
            LedgerAction.IDP_DISABLED,
            Subject("idp", provider.id),
            agency=provider.agency_id,
            sessions_ended=ended,
        )
    elif not disabled and provider.disabled_at is not None:
        provider.disabled_at = None
        record(
            actor, LedgerAction.IDP_ENABLED, Subject("idp", provider.id), agency=provider.agency_id
        )
    session().flush()
    return provider


def end_agency_sessions(agency_id: int, reason: str) -> int:
    """End every live session of an agency's members; returns how many ended."""
    from hub.auth.models import MemberSession

    members = select(Member.id).where(Member.agency_id == agency_id)
    result = session().execute(
        update(MemberSession)
        .where(MemberSession.member_id.in_(members), MemberSession.ended_at.is_(None))
        .values(ended_at=now(), end_reason=reason)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def list_providers(area_id: int | None = None) -> list[IdentityProvider]:
    query = select(IdentityProvider).join(Agency).order_by(Agency.name)
    if area_id is not None:
        query = query.where(Agency.area_id == area_id)
    return list(session().execute(query).scalars())


def get_provider(provider_id: int) -> IdentityProvider:
    provider = session().get(IdentityProvider, provider_id)
    if provider is None:
        raise NotFound("There is no such identity provider.")
    return provider


def get_provider_in_area(provider_id: int, area_id: int | None) -> IdentityProvider:
    provider = get_provider(provider_id)
    if provider.agency.area_id != area_id:
        raise NotFound("There is no such identity provider.")
    return provider


def provider_for_agency(agency_id: int) -> IdentityProvider | None:
    return (
        session()
        .execute(select(IdentityProvider).where(IdentityProvider.agency_id == agency_id))
        .scalar_one_or_none()
    )


def sign_in_choices() -> list[IdentityProvider]:
    """Providers people may pick on the sign-in page: enabled, of agencies still in the hub."""
    return list(
        session()
        .execute(
            select(IdentityProvider)
            .join(Agency)
            .where(IdentityProvider.disabled_at.is_(None), Agency.disabled_at.is_(None))
            .order_by(Agency.name)
        )
        .scalars()
    )


def providers_for_issuer(issuer: str) -> list[IdentityProvider]:
    return list(
        session()
        .execute(select(IdentityProvider).where(IdentityProvider.issuer == issuer))
        .scalars()
    )


class SecretUnavailable(RuntimeError):
    """The client secret's variable or file is missing or empty (its value is never shown)."""


def client_secret(provider: IdentityProvider | ProviderConfig) -> str:
    """Read the client secret from where the row says it is, at the moment it is needed."""
    if provider.client_secret_env:
        value = os.environ.get(provider.client_secret_env, "")
        if not value.strip():
            raise SecretUnavailable(f"environment variable {provider.client_secret_env} is not set")
        return value.strip()
    if provider.client_secret_file:
        try:
            value = Path(provider.client_secret_file).read_text(encoding="utf-8")
        except OSError:
            raise SecretUnavailable(f"file {provider.client_secret_file} cannot be read") from None
        if not value.strip():
            raise SecretUnavailable(f"file {provider.client_secret_file} is empty")
        return value.strip()
    raise SecretUnavailable("no client secret is configured")


def find_agency_by_email_domain(domain: str) -> Agency | None:
    """The agency whose staff use this email domain, if any."""
    domain = domain.strip().lower()
    if not domain or " " in domain:
        return None
    candidates = (
        session()
        .execute(select(Agency).where(Agency.email_domains.contains(domain)).order_by(Agency.id))
        .scalars()
    )
    return next((a for a in candidates if domain in a.domains), None)


# --- People signing in through a provider -------------------------------------------------


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: The provider did not send the claim at all.
ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FederatedClaims:
    """What a verified ID token and the userinfo endpoint said about a person."""

    issuer: str
    subject: str
    email: str | None
    #: ``email_verified`` exactly as sent (JSON true is the only "yes"), or ABSENT.
    email_verified: Any
    name: str | None
    claims: Mapping[str, Any]


class SignInRefused(Exception):
    """A verified person may not sign in; ``reason`` is the code the ledger records."""

    def __init__(self, reason: str, *, member_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.member_id = member_id


@dataclass
class Admission:
    member: Member
    identity: FederatedIdentity
    #: False when the person must wait for their agency's MARAC representative.
    admitted: bool


@dataclass(frozen=True)
class PathStep:
    """One step of a claim path: a key, and optionally a filter on the objects of a list."""

    key: str
    where: tuple[str, str] | None = None


_STEP = re.compile(r"^([A-Za-z0-9_:/#-]+)(?:\[([A-Za-z0-9_]+)=([^\]]{1,64})\])?$")


def parse_claim_path(path: str) -> list[PathStep] | None:
    """``realm_access.roles``, ``nhsid_nrbac_roles[org_code=RX1].role_code``; None if bad.

    Each dot goes one level into an object; a step that meets a list goes into each of its
    items (so a list of objects yields one value per object), and ``[key=value]`` keeps
    only the objects whose ``key`` is ``value``.
    """
    steps = []
    for part in path.split("."):
        found = _STEP.match(part)
        if found is None:
            return None
        where = (found.group(2), found.group(3)) if found.group(2) else None
        steps.append(PathStep(found.group(1), where))
    return steps or None


def _walk(value: Any, steps: list[PathStep]) -> list[Any]:
    if not steps:
        if isinstance(value, list | tuple):
            return [v for item in value for v in _walk(item, [])]
        return [value]
    if isinstance(value, list | tuple):
        return [v for item in value for v in _walk(item, steps)]
    if not isinstance(value, Mapping):
        return []
    step, rest = steps[0], steps[1:]
    inner = value.get(step.key)
    if step.where is not None:
        key, wanted = step.where
        items = inner if isinstance(inner, list | tuple) else [inner]
        inner = [i for i in items if isinstance(i, Mapping) and str(i.get(key)) == wanted]
    return _walk(inner, rest)


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """The string values at a roles or groups claim path (see ``parse_claim_path``).

    A claim whose own name holds dots (``https://hub.example/roles``) is read whole first.
    """
    if not name:
        return []
    if name in claims:
        found = _walk(claims[name], [])
    else:
        steps = parse_claim_path(name)
        found = _walk(claims, steps) if steps else []
    return [v for v in found if isinstance(v, str) and v]


def describe_claims(claims: Mapping[str, Any], roles_claim: str) -> dict[str, Any]:
    """What the administrator may see of a sign-in's claims: names and role codes only."""
    nested = {
        name: sorted({str(k)[:60] for item in value if isinstance(item, Mapping) for k in item})[
            :40
        ]
        for name, value in claims.items()
        if isinstance(value, list) and any(isinstance(item, Mapping) for item in value)
    }
    values = sorted({v[:200] for v in claim_values(claims, roles_claim)})[:50]
    return {
        "claim_names": sorted(str(k)[:100] for k in claims)[:100],
        "role_values": values,
        "nested_keys": dict(sorted(nested.items())[:20]),
    }


def note_claims_seen(provider_id: int, claims: Mapping[str, Any], roles_claim: str) -> None:
    """Keep what this sign-in sent (codes only), even when the sign-in is refused."""
    seen = describe_claims(claims, roles_claim)

    def write(db_session: Any) -> None:
        # One statement either way, so two sign-ins at once never collide on the first row.
        if db_session.get_bind().dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert
        values = {"idp_id": provider_id, "seen_at": now(), **seen}
        statement = upsert(ClaimsSeen).values(**values)
        db_session.execute(
            statement.on_conflict_do_update(
                index_elements=["idp_id"],
                set_={k: statement.excluded[k] for k in values if k != "idp_id"},
            )
        )

    in_own_transaction(write)


def claims_seen(provider_id: int) -> ClaimsSeen | None:
    return session().get(ClaimsSeen, provider_id)


def mapped_roles(provider: IdentityProvider, claims: Mapping[str, Any]) -> frozenset[Role]:
    """The hub roles a provider's claims give, by the provider's mapping."""
    mapping = provider.role_mapping or {}
    allowed = {r.value for r in MAPPABLE_ROLES}
    return frozenset(
        Role(mapping[v])
        for v in claim_values(claims, provider.roles_claim)
        if v in mapping and mapping[v] in allowed
    )


def _sso_actor(provider: IdentityProvider, request_id: str) -> Actor:
    extra = {"request_id": request_id} if request_id else {}
    return Actor(
        kind="system",
        member_id=None,
        agency_id=provider.agency_id,
        area_id=provider.agency.area_id,
        roles=frozenset(),
        name="single sign-on",
        **extra,
    )


def _check_email(provider: IdentityProvider, claims: FederatedClaims) -> str:
    email = (claims.email or "").strip().lower()
    if not email or email.count("@") != 1 or len(email) > 254:
        raise SignInRefused("no_email")
    # Only a JSON true says "verified": the string "false" (AWS Cognito, Apple) is truthy
    # in most languages, and an unverified address must never link to an existing member.
    verified = claims.email_verified
    directory_vouches = (
        verified is ABSENT and provider.email_verification == EmailVerification.DIRECTORY.value
    )
    if verified is not True and not directory_vouches:
        raise SignInRefused("email_unverified")
    domain = email.split("@")[1]
    if domain in provider.domains:
        return email
    # A provider vouches only for its own agency's people: a user of agency A's provider
    # whose email belongs to agency B is refused, as is a domain no agency uses.
    owner = find_agency_by_email_domain(domain)
    raise SignInRefused("wrong_agency" if owner is not None else "unknown_domain")


def admit_federated(
    provider: IdentityProvider, claims: FederatedClaims, *, request_id: str = ""
) -> Admission:
    """Find or create the member for a verified (issuer, subject) and decide if they come in.

    Raises SignInRefused when they may not; returns an Admission that is not admitted when
    they wait for approval (what was created for them then stays, so it must commit).

    The same person signing in twice at once (two tabs, a double click) makes both
    requests race to create the same rows: the one that loses reads what the other made.
    """
    for attempt in (1, 2):
        try:
            with session().begin_nested():
                return _admit(provider, claims, request_id)
        except (IntegrityError, StaleDataError):
            if attempt == 2:
                raise
            session().expire_all()
    raise AssertionError("unreachable")


def _admit(provider: IdentityProvider, claims: FederatedClaims, request_id: str) -> Admission:
    actor = _sso_actor(provider, request_id)
    if provider.is_disabled:
        raise SignInRefused("provider_disabled")
    if provider.agency.is_disabled:
        raise SignInRefused("agency_disabled")
    email = _check_email(provider, claims)
    roles = mapped_roles(provider, claims.claims)
    identity = (
        session()
        .execute(
            select(FederatedIdentity).where(
                FederatedIdentity.issuer == claims.issuer,
                FederatedIdentity.subject == claims.subject,
            )
        )
        .scalar_one_or_none()
    )
    if identity is None:
        return _first_sign_in(actor, provider, claims, email, roles)
    member = identity.member
    identity.suggested_roles = " ".join(sorted(r.value for r in roles))
    if member.agency_id != provider.agency_id:
        raise SignInRefused("wrong_agency", member_id=member.id)
    if member.is_disabled:
        raise SignInRefused("member_disabled", member_id=member.id)
    if identity.status == IdentityStatus.REFUSED.value:
        raise SignInRefused("refused_by_agency", member_id=member.id)
    if identity.status == IdentityStatus.PENDING.value or member.is_pending:
        if not provider.trust_role_mapping:
            return Admission(member, identity, admitted=False)
        # The agency has since trusted its provider's mapping: that settles the wait.
        identity.status = IdentityStatus.APPROVED.value
        identity.decided_at = now()
        member.status = MemberStatus.ACTIVE
        record(
            actor,
            LedgerAction.IDENTITY_APPROVED,
            Subject("member", member.id),
            idp=provider.id,
            by="role_mapping",
        )
    if provider.trust_role_mapping:
        _apply_mapping(actor, provider, member, roles)
    identity.last_signed_in_at = now()
    session().flush()
    return Admission(member, identity, admitted=True)


def _apply_mapping(
    actor: Actor, provider: IdentityProvider, member: Member, roles: frozenset[Role]
) -> None:
    if not roles:
        # The provider no longer gives this person any hub role: access ends with it.
        raise SignInRefused("no_role", member_id=member.id)
    if member.roles != roles:
        previous = member.roles
        member.set_roles(roles)
        record(
            actor,
            LedgerAction.MEMBER_ROLES_CHANGED,
            Subject("member", member.id),
            roles=sorted(r.value for r in roles),
            previous=sorted(r.value for r in previous),
            idp=provider.id,
        )


def _first_sign_in(
    actor: Actor,
    provider: IdentityProvider,
    claims: FederatedClaims,
    email: str,
    roles: frozenset[Role],
) -> Admission:
    trusted = provider.trust_role_mapping
    if trusted and not roles:
        raise SignInRefused("no_role")
    member = session().execute(select(Member).where(Member.email == email)).scalar_one_or_none()
    if member is not None and member.agency_id != provider.agency_id:
        raise SignInRefused("wrong_agency", member_id=member.id)
    if member is not None and member.is_disabled:
        raise SignInRefused("member_disabled", member_id=member.id)
    created = member is None
    if member is None:
        name = (claims.name or "").strip()[:160] or email.split("@")[0]
        member = Member(
            agency_id=provider.agency_id,
            name=name,
            email=email,
            status=(MemberStatus.ACTIVE if trusted else MemberStatus.PENDING).value,
        )
        if trusted:
            member.set_roles(roles)
        session().add(member)
        session().flush()
        record(
            actor,
            LedgerAction.MEMBER_CREATED,
            Subject("member", member.id),
            agency=provider.agency_id,
            roles=sorted(r.value for r in member.roles),
            status=member.status,
            idp=provider.id,
        )
    identity = FederatedIdentity(
        member_id=member.id,
        member=member,
        idp_id=provider.id,
        issuer=claims.issuer,
        subject=claims.subject,
        status=(IdentityStatus.APPROVED if trusted else IdentityStatus.PENDING).value,
        suggested_roles=" ".join(sorted(r.value for r in roles)),
        decided_at=now() if trusted else None,
    )
    session().add(identity)
    session().flush()
    # An existing member's email only proposes the link; a person decides unless the
    # agency trusts its provider.
    record(
        actor,
        LedgerAction.IDENTITY_LINKED,
        Subject("member", member.id),
        idp=provider.id,
        status=identity.status,
        new_member=created,
    )
    if not trusted:
        return Admission(member, identity, admitted=False)
    if not created:
        _apply_mapping(actor, provider, member, roles)
    identity.last_signed_in_at = now()
    session().flush()
    return Admission(member, identity, admitted=True)


def identity_of(member_id: int, provider_id: int) -> FederatedIdentity | None:
    return (
        session()
        .execute(
            select(FederatedIdentity).where(
                FederatedIdentity.member_id == member_id, FederatedIdentity.idp_id == provider_id
            )
        )
        .scalars()
        .first()
    )


# --- Approvals ------------------------------------------------------------------------------


def approvable_roles(actor: Actor) -> tuple[Role, ...]:
    return MAPPABLE_ROLES if actor.can(Permission.MEMBERS_MANAGE) else REP_APPROVABLE_ROLES


def _in_scope(actor: Actor, identity: FederatedIdentity) -> bool:
    """A MARAC representative decides for their own agency; an administrator for the area."""
    if actor.can(Permission.MEMBERS_MANAGE):
        return identity.member.agency.area_id == actor.area_id
    return identity.member.agency_id == actor.agency_id


def pending_approvals(actor: Actor) -> list[FederatedIdentity]:
    _need(actor, Permission.MEMBERS_APPROVE)
    query = (
        select(FederatedIdentity)
        .join(Member, FederatedIdentity.member_id == Member.id)
        .join(Agency, Member.agency_id == Agency.id)
        .where(FederatedIdentity.status == IdentityStatus.PENDING.value)
        .options(selectinload(FederatedIdentity.provider))
        .order_by(FederatedIdentity.created_at)
    )
    if actor.can(Permission.MEMBERS_MANAGE):
        query = query.where(Agency.area_id == actor.area_id)
    else:
        query = query.where(Member.agency_id == actor.agency_id)
    return list(session().execute(query).scalars())


def get_pending(actor: Actor, identity_id: int) -> FederatedIdentity:
    _need(actor, Permission.MEMBERS_APPROVE)
    identity = session().get(FederatedIdentity, identity_id)
    if (
        identity is None
        or identity.status != IdentityStatus.PENDING.value
        or not _in_scope(actor, identity)
    ):
        raise NotFound("There is no such request, or it has already been decided.")
    return identity


def approve_sign_in(actor: Actor, identity: FederatedIdentity, roles: Iterable[Role]) -> Member:
    """Let a person who signed in with their agency account use the hub, with these roles."""
    _need(actor, Permission.MEMBERS_APPROVE)
    if not _in_scope(actor, identity) or identity.status != IdentityStatus.PENDING.value:
        raise NotFound("There is no such request, or it has already been decided.")
    chosen = frozenset(roles)
    member = identity.member
    allowed = set(approvable_roles(actor))
    if member.is_pending:
        if not chosen:
            raise ValidationFailed({"roles": "Select at least one role"})
        if not chosen <= allowed:
            raise ValidationFailed({"roles": "Select only roles you may give"})
        member.set_roles(chosen)
        member.status = MemberStatus.ACTIVE
        record(
            actor,
            LedgerAction.MEMBER_APPROVED,
            Subject("member", member.id),
            agency=member.agency_id,
            roles=sorted(r.value for r in chosen),
        )
    identity.status = IdentityStatus.APPROVED.value
    identity.decided_at = now()
    session().flush()
    record(actor, LedgerAction.IDENTITY_APPROVED, Subject("member", member.id), idp=identity.idp_id)
    return member


def refuse_sign_in(actor: Actor, identity: FederatedIdentity) -> Member:
    """Refuse a request: the person cannot sign in with that account until approved."""
    _need(actor, Permission.MEMBERS_APPROVE)
    if not _in_scope(actor, identity) or identity.status != IdentityStatus.PENDING.value:
        raise NotFound("There is no such request, or it has already been decided.")
    member = identity.member
    identity.status = IdentityStatus.REFUSED.value
    identity.decided_at = now()
    if member.is_pending and member.disabled_at is None:
        member.disabled_at = now()
    session().flush()
    record(actor, LedgerAction.IDENTITY_REFUSED, Subject("member", member.id), idp=identity.idp_id)
    return member


# --- API clients ----------------------------------------------------------------------------


@dataclass
class ApiClientData:
    agency_id: int
    client_id: str
    name: str
    scopes: frozenset[str]


def _validate_api_client(data: ApiClientData, existing_id: int | None = None) -> Agency:
    errors: dict[str, str] = {}
    agency = session().get(Agency, data.agency_id)
    if agency is None:
        errors["agency_id"] = "Select the agency the system belongs to"
    client_id = data.client_id.strip()
    if not client_id:
        errors["client_id"] = "Enter the client ID the agency's provider puts in its tokens"
    elif len(client_id) > 255 or any(c.isspace() for c in client_id):
        errors["client_id"] = "Client ID must be 255 characters or fewer, without spaces"
    elif agency is not None:
        clash = (
            session()
            .execute(
                select(ApiClient.id).where(
                    ApiClient.agency_id == agency.id, ApiClient.client_id == client_id
                )
            )
            .scalar_one_or_none()
        )
        if clash is not None and clash != existing_id:
            errors["client_id"] = "This agency already has a system with this client ID"
    if not data.name.strip():
        errors["name"] = "Enter a name for the system, like Police records system"
    elif len(data.name.strip()) > 160:
        errors["name"] = "Name must be 160 characters or fewer"
    if not data.scopes:
        errors["scopes"] = "Select at least one thing the system may do"
    elif not set(data.scopes) <= set(API_SCOPES):
        errors["scopes"] = "Select only scopes from the list"
    if errors:
        raise ValidationFailed(errors)
    assert agency is not None
    return agency


def add_api_client(actor: Actor, data: ApiClientData) -> ApiClient:
    """Register a partner system; its agency's provider issues its access tokens."""
    _need(actor, Permission.IDP_MANAGE)
    agency = _validate_api_client(data)
    if actor.kind != "system" and agency.area_id != actor.area_id:
        raise NotFound("There is no such agency.")
    client = ApiClient(
        agency_id=agency.id,
        agency=agency,
        client_id=data.client_id.strip(),
        name=data.name.strip(),
        scopes=" ".join(sorted(data.scopes)),
    )
    session().add(client)
    session().flush()
    record(
        actor,
        LedgerAction.API_CLIENT_CREATED,
        Subject("client", client.id),
        agency=agency.id,
        scopes=sorted(data.scopes),
    )
    return client


def set_api_client_disabled(actor: Actor, client: ApiClient, disabled: bool) -> ApiClient:
    _need(actor, Permission.IDP_MANAGE)
    if disabled and client.disabled_at is None:
        client.disabled_at = now()
        record(
            actor,
            LedgerAction.API_CLIENT_DISABLED,
            Subject("client", client.id),
            agency=client.agency_id,
        )
    elif not disabled and client.disabled_at is not None:
        client.disabled_at = None
        record(
            actor,
            LedgerAction.API_CLIENT_ENABLED,
            Subject("client", client.id),
            agency=client.agency_id,
        )
    session().flush()
    return client


def list_api_clients(area_id: int | None = None) -> list[ApiClient]:
    query = select(ApiClient).join(Agency).order_by(Agency.name, ApiClient.name)
    if area_id is not None:
        query = query.where(Agency.area_id == area_id)
    return list(session().execute(query).scalars())


def get_api_client_in_area(client_id: int, area_id: int | None) -> ApiClient:
    client = session().get(ApiClient, client_id)
    if client is None or client.agency.area_id != area_id:
        raise NotFound("There is no such API client.")
    return client


def api_client_for_token(agency_ids: Iterable[int], client_id: str) -> ApiClient | None:
    """The registered client a token's issuer and client id name, among these agencies."""
    ids = list(agency_ids)
    if not ids or not client_id:
        return None
    found = list(
        session()
        .execute(
            select(ApiClient).where(ApiClient.agency_id.in_(ids), ApiClient.client_id == client_id)
        )
        .scalars()
    )
    # Two agencies sharing one issuer must not share a client id: refuse the ambiguity.
    return found[0] if len(found) == 1 else None
