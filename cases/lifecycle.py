"""The referral's lifecycle: one table of what may happen to a case in each status.

The services move a referral only through ``move`` and the case page offers only what
``decisions_from`` gives, so what the page offers and what the services accept are one rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cases.models import Referral, ReferralStatus
from hub.core.errors import ValidationFailed


class Decision(StrEnum):
    SUBMIT = "submit"
    ACCEPT = "accept"
    REJECT = "reject"
    DEFER = "defer"
    HEAR = "hear"
    CLOSE = "close"
    TRANSFER = "transfer"


@dataclass(frozen=True)
class Move:
    #: The statuses the decision may be taken from.
    start: frozenset[ReferralStatus]
    #: The status it leaves the referral in.
    end: ReferralStatus
    #: What a person trying it from any other status is told.
    refused: str


S = ReferralStatus
MOVES: dict[Decision, Move] = {
    Decision.SUBMIT: Move(
        frozenset({S.DRAFT}), S.SUBMITTED, "This referral has already been sent."
    ),
    Decision.ACCEPT: Move(
        frozenset({S.SUBMITTED, S.DEFERRED}),
        S.ACCEPTED,
        "Only a submitted or deferred referral can be accepted.",
    ),
    # A deferred referral waits for more information; what arrives can show it does not meet
    # the criteria after all, so it can still be rejected.
    Decision.REJECT: Move(
        frozenset({S.SUBMITTED, S.DEFERRED}),
        S.REJECTED,
        "Only a submitted or deferred referral can be rejected.",
    ),
    Decision.DEFER: Move(
        frozenset({S.SUBMITTED, S.ACCEPTED}),
        S.DEFERRED,
        "Only a submitted or accepted referral can be deferred.",
    ),
    Decision.HEAR: Move(
        frozenset({S.ACCEPTED}), S.HEARD, "Only an accepted case can be heard at a MARAC."
    ),
    Decision.CLOSE: Move(
        frozenset({S.ACCEPTED, S.HEARD}), S.CLOSED, "Only an accepted or heard case can be closed."
    ),
    # Set when the receiving MARAC accepts a transfer (transfers/): the case goes on there.
    Decision.TRANSFER: Move(
        frozenset({S.ACCEPTED, S.HEARD}),
        S.TRANSFERRED,
        "Only an accepted or heard case can be transferred to another MARAC.",
    ),
}

#: What the coordinator decides on the case page (submitting and hearing happen elsewhere).
TRIAGE = (Decision.ACCEPT, Decision.DEFER, Decision.REJECT, Decision.CLOSE)


def decisions_from(status: ReferralStatus) -> tuple[Decision, ...]:
    """The coordinator's decisions open to a referral in this status, in the page's order."""
    return tuple(d for d in TRIAGE if status in MOVES[d].start)


def move(referral: Referral, decision: Decision) -> None:
    """Take the decision, or refuse it plainly when the referral's status does not allow it."""
    step = MOVES[decision]
    if referral.status not in step.start:
        raise ValidationFailed(step.refused)
    referral.status = step.end
