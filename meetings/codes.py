"""The codes of conferences (kinds, states, outcomes) and the order of a case's record.

Kept apart from the models so that pages, forms and presenters can name them without
touching the tables.
"""

from __future__ import annotations

from enum import StrEnum


class MeetingKind(StrEnum):
    SCHEDULED = "scheduled"  # one of a recurring series at the area's cadence
    AD_HOC = "ad_hoc"  # a single extra meeting
    EMERGENCY = "emergency"  # called for named cases; no cut-off applies

    @property
    def label(self) -> str:
        return {"scheduled": "Scheduled", "ad_hoc": "Ad hoc", "emergency": "Emergency"}[self.value]


class MeetingStatus(StrEnum):
    PLANNED = "planned"  # the coordinator is building the agenda
    CIRCULATED = "circulated"  # agencies are invited and research; the meeting may run
    HELD = "held"  # the chair has closed the meeting; the minutes follow

    @property
    def label(self) -> str:
        return {
            "planned": "Agenda being built",
            "circulated": "Agenda circulated",
            "held": "Held",
        }[self.value]


class ItemStatus(StrEnum):
    LISTED = "listed"
    DISCUSSED = "discussed"
    DEFERRED = "deferred"

    @property
    def label(self) -> str:
        return {"listed": "To discuss", "discussed": "Discussed", "deferred": "Deferred"}[
            self.value
        ]


class DeferralKind(StrEnum):
    #: The coordinator deferred the case before the meeting, with a reason.
    COORDINATOR = "coordinator"
    #: The referrer neither attended nor briefed a representative (practice rule 12).
    REFERRER_ABSENT = "referrer_absent"


class AttendanceKind(StrEnum):
    PRESENT = "present"
    APOLOGIES = "apologies"
    INFORMATION_SENT = "information_sent"
    OBSERVER = "observer"

    @property
    def label(self) -> str:
        return {
            "present": "Present",
            "apologies": "Apologies",
            "information_sent": "Information sent in",
            "observer": "Observer",
        }[self.value]


class ActionStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    #: Not possible because the circumstances changed (the minutes checklist's distinction).
    NOT_POSSIBLE = "not_possible"
    #: The agency did not do it.
    NOT_DONE = "not_done"

    @property
    def label(self) -> str:
        return {
            "open": "Open",
            "done": "Done",
            "not_possible": "Not possible: circumstances changed",
            "not_done": "Not done by the agency",
        }[self.value]


class MinutesStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"  # locked: changes only as amendments (new revisions)
    DISTRIBUTED = "distributed"  # approved and sent out to the agencies

    @property
    def label(self) -> str:
        return {
            "draft": "Draft",
            "approved": "Approved and locked",
            "distributed": "Approved and sent out",
        }[self.value]


#: The per-case record, in the practice order (practice rule 14): field, label, required.
DISCUSSION_FIELDS: list[tuple[str, str, bool]] = [
    ("referrer_summary", "Reason for referral and the risks (referring agency)", True),
    ("victim_views", "The victim's views and needs (IDVA)", True),
    ("risk_victim", "Risks to the victim", True),
    ("risk_children", "Risks to children", True),
    ("risk_perpetrator", "Risks from and to the perpetrator", True),
    ("risk_professionals", "Risks to professionals", True),
    ("primary_aggressor", "Primary aggressor (counter-allegations)", False),
]
