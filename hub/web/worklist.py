"""What each person's home page lists: the work waiting for them, from every package.

The home page is a worklist, not a menu: the cases the person may open (each linked), their
tasks and their agency's queue, approvals waiting, the meetings they have work for, and for
the coordinator the inbox; for the auditor the ledger's state and its latest checkpoints.
Every part comes from the owning package's service, through the same filter that package's
own list applies, so a count on the home page never counts what its list would not show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit import services as audit
from cases import services as cases
from cases.operations.lists import ReferralPage
from hub.core.access import Actor, Permission
from hub.core.clock import today_london
from hub.core.db import session
from meetings import services as meetings
from retention import services as retention
from subject_access import services as subject_access
from todo import services as todo
from transfers import services as transfers

#: How many of each list the home page shows before "see all".
SHOWN = 5


@dataclass(frozen=True)
class Worklist:
    cases: ReferralPage | None = None
    tasks: todo.TaskPage | None = None
    queued: int = 0
    inbox: int = 0
    approvals: int = 0
    meetings: list[meetings.MeetingRow] = field(default_factory=list)
    ledger: audit.LedgerStatus | None = None
    checkpoints: list[Any] = field(default_factory=list)
    subject_access: subject_access.OpenCount | None = None
    #: Transfers from other MARACs waiting for this area's coordinator; None for others.
    transfers_in: int | None = None
    #: Cases and files whose retention period has ended, waiting for the coordinator.
    retention_due: int = 0


def worklist(actor: Actor) -> Worklist:
    """The actor's work, each part only where their roles give them that list."""
    parts: dict[str, Any] = {}
    if actor.can(Permission.REFERRALS_READ) and actor.area_id is not None:
        parts["cases"] = cases.open_cases(actor, 1, SHOWN)
    if actor.can(Permission.TASKS_READ) and actor.member_id is not None:
        page = todo.list_my_tasks(actor, todo.ListQuery(), today_london(), size=SHOWN)
        parts["tasks"] = page
        parts["queued"] = page.counts.queued if page.counts else 0
    if actor.can(Permission.REFERRALS_TRIAGE):
        parts["inbox"] = cases.inbox_count(actor)
    if actor.can(Permission.CONSENT_APPROVE):
        parts["approvals"] = cases.pending_approvals_count(actor)
    if actor.can(Permission.MEETINGS_READ):
        parts["meetings"] = meetings.meetings_ahead(actor, SHOWN)
    if actor.can(Permission.AUDIT_READ):
        parts["ledger"] = audit.status(session())
        parts["checkpoints"] = audit.recent_checkpoints(session(), 3)
    if actor.can(Permission.SUBJECT_ACCESS) and actor.area_id is not None:
        parts["subject_access"] = subject_access.open_count(actor, today_london())
    if actor.can(Permission.REFERRALS_TRIAGE) and actor.area_id is not None:
        parts["transfers_in"] = transfers.incoming_count(actor)
    if actor.can(Permission.RETENTION_MANAGE) and actor.area_id is not None:
        parts["retention_due"] = retention.counts(actor)["due"]
    return Worklist(**parts)
