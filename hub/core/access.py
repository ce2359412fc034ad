"""The access vocabulary: permissions, roles and the acting person.

How a view declares what it needs (``@require``, ``@require_scope``, ``@public``,
``@require_recent_sign_in``) lives in ``hub.core.routes``, above the request's actor.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Permission(StrEnum):
    """What an actor may do, named ``resource:action``."""

    SESSION_USE = "session:use"  # any signed-in member: home page, own account
    AGENCIES_READ = "agencies:read"
    AGENCIES_MANAGE = "agencies:manage"
    MEMBERS_MANAGE = "members:manage"
    MEMBERS_APPROVE = "members:approve"  # MARAC representative, own agency only
    IDP_MANAGE = "idp:manage"
    REFERRALS_CREATE = "referrals:create"
    REFERRALS_READ = "referrals:read"
    REFERRALS_TRIAGE = "referrals:triage"
    CONSENT_RECORD = "consent:record"
    CONSENT_APPROVE = "consent:approve"
    WHEREABOUTS_REVEAL = "whereabouts:reveal"
    TASKS_READ = "tasks:read"
    TASKS_MANAGE = "tasks:manage"
    TEMPLATES_MANAGE = "templates:manage"
    TASKS_OVERSEE = "tasks:oversee"  # MARAC representative: the agency's overdue tasks, any task
    MEETINGS_READ = "meetings:read"
    MEETINGS_RUN = "meetings:run"
    MEETINGS_CHAIR = "meetings:chair"
    RESEARCH_WRITE = "research:write"
    AUDIT_READ = "audit:read"
    RETURNS_READ = "returns:read"  # the quarterly data return and dashboard: aggregates only
    RETURNS_MANAGE = "returns:manage"  # the return's agency categories, validating, submitting
    RETURNS_SETTINGS = "returns:settings"  # the repeat definition, population, national figures
    AUDIT_EXPORT = "audit:export"
    SUBJECT_ACCESS = "subject_access:manage"  # the DPO: requests, bundles, redactions, PDFs
    RETENTION_SETTINGS = "retention:settings"  # the area's retention policy: periods only
    RETENTION_MANAGE = "retention:manage"  # the review queue (references only) and legal holds
    RETENTION_FILES = "retention:files"  # the DPO: subject access files past their period


class Role(StrEnum):
    """The roles a member holds; each grants a set of permissions."""

    PRACTITIONER = "practitioner"
    MARAC_REP = "marac_rep"
    COORDINATOR = "coordinator"
    CHAIR = "chair"
    AUDITOR = "auditor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.PRACTITIONER: "Practitioner",
    Role.MARAC_REP: "MARAC representative",
    Role.COORDINATOR: "MARAC coordinator",
    Role.CHAIR: "Chair",
    Role.AUDITOR: "Auditor",
    Role.ADMIN: "Hub administrator",
}

_PRACTICE = {
    Permission.SESSION_USE,
    Permission.REFERRALS_CREATE,
    Permission.REFERRALS_READ,
    Permission.CONSENT_RECORD,
    Permission.WHEREABOUTS_REVEAL,
    Permission.TASKS_READ,
    Permission.TASKS_MANAGE,
    Permission.MEETINGS_READ,
    Permission.RESEARCH_WRITE,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PRACTITIONER: frozenset(_PRACTICE),
    Role.MARAC_REP: frozenset(
        _PRACTICE
        | {
            Permission.CONSENT_APPROVE,
            Permission.MEMBERS_APPROVE,
            Permission.TEMPLATES_MANAGE,
            Permission.TASKS_OVERSEE,
        }
    ),
    Role.COORDINATOR: frozenset(
        _PRACTICE
        | {
            Permission.REFERRALS_TRIAGE,
            Permission.MEETINGS_RUN,
            Permission.AGENCIES_READ,
            Permission.RETURNS_READ,
            Permission.RETURNS_MANAGE,
            Permission.RETURNS_SETTINGS,
            Permission.RETENTION_SETTINGS,
            Permission.RETENTION_MANAGE,
        }
    ),
    # The chair reports to the governance group: the MARAC's numbers, never changed by them.
    Role.CHAIR: frozenset(
        _PRACTICE | {Permission.MEETINGS_CHAIR, Permission.MEETINGS_RUN, Permission.RETURNS_READ}
    ),
    # The auditor reads the ledger; as data protection officer, case content only through
    # the gate's subject access reading, for a request (consent.gate).
    Role.AUDITOR: frozenset(
        {
            Permission.SESSION_USE,
            Permission.AUDIT_READ,
            Permission.AUDIT_EXPORT,
            Permission.SUBJECT_ACCESS,
            Permission.RETENTION_FILES,
        }
    ),
    # Administration is not practice: an administrator sees no case data by that role alone.
    Role.ADMIN: frozenset(
        {
            Permission.SESSION_USE,
            Permission.AGENCIES_READ,
            Permission.AGENCIES_MANAGE,
            Permission.MEMBERS_MANAGE,
            Permission.MEMBERS_APPROVE,
            Permission.IDP_MANAGE,
            # The area's population and the national figures: counts, never case data.
            Permission.RETURNS_SETTINGS,
            # The area's retention periods: a policy, never a case.
            Permission.RETENTION_SETTINGS,
        }
    ),
}


#: What a partner system's API scopes let it do, in the same vocabulary as roles.
SCOPE_PERMISSIONS: dict[str, tuple[Permission, ...]] = {
    "referrals:read": (Permission.REFERRALS_READ,),
    "returns:read": (Permission.RETURNS_READ,),
    "referrals:write": (
        Permission.REFERRALS_CREATE,
        Permission.REFERRALS_READ,
        Permission.CONSENT_RECORD,
    ),
}


def permissions_for(roles: frozenset[Role] | set[Role]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


@dataclass(frozen=True)
class Actor:
    """Who is acting: passed explicitly to every service, never read from the request."""

    kind: str  # "member", "service" (an API client) or "system" (CLI, scheduler)
    member_id: int | None
    agency_id: int | None
    area_id: int | None
    roles: frozenset[Role]
    name: str
    agency_name: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    authenticated_at: datetime | None = None
    client_id: str | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.kind == "service":
            # A partner system acts only within its token's scopes, never through roles.
            return frozenset(p for scope in self.scopes for p in SCOPE_PERMISSIONS.get(scope, ()))
        return permissions_for(self.roles)

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def ref(self) -> dict[str, Any]:
        """Identifiers for a ledger entry: ids and codes only, never a name."""
        ref: dict[str, Any] = {"kind": self.kind}
        if self.member_id is not None:
            ref["member"] = self.member_id
        if self.agency_id is not None:
            ref["agency"] = self.agency_id
        if self.area_id is not None:
            ref["area"] = self.area_id  # which MARAC area's auditors may read the entry
        if self.client_id is not None:
            ref["client"] = self.client_id
        if self.kind == "system":
            ref["name"] = self.name  # which command or job: "cli", "scheduler", ...
        return ref

    @classmethod
    def system(cls, name: str = "system", *, roles: frozenset[Role] = frozenset()) -> Actor:
        """The actor for CLI commands and scheduled jobs."""
        return cls(
            kind="system", member_id=None, agency_id=None, area_id=None, roles=roles, name=name
        )


def ensure_recent_sign_in(actor: Actor, minutes: int, at: datetime) -> None:
    """The same check for services: raise StepUpRequired unless the actor signed in lately.

    The CLI and scheduler (system actors) pass; a partner system has nobody to ask, so it
    never may.
    """
    from datetime import timedelta

    from hub.core.errors import Forbidden, StepUpRequired

    if actor.kind == "system":
        return
    if actor.kind != "member":
        raise Forbidden("This action needs a person who has just signed in.")
    if actor.authenticated_at is None or actor.authenticated_at < at - timedelta(minutes=minutes):
        raise StepUpRequired(minutes)
