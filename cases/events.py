"""What happens to cases that other packages act on (see hub.core.events)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hub.core.events import Event


class GivenBy(StrEnum):
    ACCEPTED = "referral_accepted"  # the coordinator accepted the referral: the referrer's
    SHARED = "case_shared"  # the referrer or the coordinator gave the agency the case


@dataclass(frozen=True)
class CaseGiven(Event):
    """An agency now holds a case: its to-do template runs for it."""

    referral_id: int
    agency_id: int
    how: GivenBy
