"""Count the return's figures from the meetings an area held: one row per meeting date.

A case is a victim and perpetrator pair (a referral naming two perpetrators is two cases),
counted at the meeting that discussed it: a case deferred to a later meeting counts there,
and only there. Repeats are included in the cases. Each victim question is asked of each
case; children are counted once per household (referral), however many pairs it holds.

The statements are a fixed few per area and period, whatever the number of cases: the
meetings, the discussed cases with their victim and referring agency, and the
perpetrators of those cases.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import select

from agencies.models import Agency, AgencyType
from cases.models import PartyRole, Person, Referral, ReferralParty
from hub.core.db import session
from meetings.models import AgendaItem, ItemStatus, Meeting, MeetingStatus
from returns import codes


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter, as SafeLives' tables end theirs (31 March, 30 June, ...)."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        found = re.fullmatch(r"(\d{4})-?Q([1-4])", text.strip().upper())
        if found is None or not 2000 <= int(found.group(1)) <= 2100:
            raise ValueError("A quarter is written like 2026-Q3")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def containing(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def key(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def starts_on(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def ends_on(self) -> date:
        return self.next.starts_on - timedelta(days=1)

    @property
    def next(self) -> Quarter:
        return Quarter(self.year + self.number // 4, self.number % 4 + 1)

    @property
    def previous(self) -> Quarter:
        return Quarter(self.year - (self.number == 1), (self.number - 2) % 4 + 1)

    @property
    def label(self) -> str:
        months = ["January", "April", "July", "October"][self.number - 1]
        last = ["March", "June", "September", "December"][self.number - 1]
        return f"{months} to {last} {self.year}"

    def year_to(self) -> list[Quarter]:
        """The four quarters of the rolling 12 months that end with this one, oldest first."""
        found = [self]
        while len(found) < 4:
            found.insert(0, found[0].previous)
        return found


@dataclass
class MeetingRow:
    """The counts for one meeting date (never a case)."""

    held_on: date
    counts: Counter[str] = field(default_factory=Counter)

    def get(self, code: str) -> int:
        return self.counts[code]


def category_of(agency_type: AgencyType, mapping: Mapping[str, str]) -> str:
    chosen = mapping.get(agency_type.value)
    return chosen if chosen in codes.CATEGORIES else codes.DEFAULT_CATEGORIES[agency_type]


def _tally(counts: Counter[str], code: str, value: bool | None) -> None:
    if value is None:
        counts[code + codes.NOT_KNOWN] += 1
    elif value:
        counts[code] += 1


def meeting_rows(
    area_id: int, starts_on: date, ends_on: date, mapping: Mapping[str, str]
) -> list[MeetingRow]:
    """One row per meeting the area held between the two days (inclusive), oldest first."""
    held = (
        Meeting.area_id == area_id,
        Meeting.status == MeetingStatus.HELD,
        Meeting.held_on >= starts_on,
        Meeting.held_on <= ends_on,
    )
    db = session()
    rows: dict[int, MeetingRow] = {
        meeting_id: MeetingRow(held_on)
        for meeting_id, held_on in db.execute(
            select(Meeting.id, Meeting.held_on).where(*held).order_by(Meeting.held_on, Meeting.id)
        )
    }
    if not rows:
        return []
    discussed = (
        select(
            AgendaItem.meeting_id,
            Referral.id,
            Referral.is_repeat,
            Referral.children_count,
            Agency.type,
            Person.born_on,
            Person.gender,
            Person.ethnicity,
            Person.disability,
            Person.lgbt,
        )
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .join(Referral, Referral.id == AgendaItem.referral_id)
        .join(Agency, Agency.id == Referral.referring_agency_id)
        .outerjoin(Person, Person.id == Referral.victim_id)
        .where(*held, AgendaItem.status == ItemStatus.DISCUSSED)
    )
    perpetrators: dict[int, list[date | None]] = {}
    heard = (
        select(AgendaItem.referral_id)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .where(*held, AgendaItem.status == ItemStatus.DISCUSSED)
    )
    for referral_id, born_on in db.execute(
        select(ReferralParty.referral_id, Person.born_on)
        .join(Person, Person.id == ReferralParty.person_id)
        .where(
            ReferralParty.role == PartyRole.PERPETRATOR.value,
            ReferralParty.referral_id.in_(heard),
        )
        .order_by(ReferralParty.id)
    ):
        perpetrators.setdefault(referral_id, []).append(born_on)
    for (
        meeting_id,
        referral_id,
        is_repeat,
        children,
        agency_type,
        born_on,
        gender,
        ethnicity,
        disability,
        lgbt,
    ) in db.execute(discussed):
        row = rows[meeting_id]
        counts = row.counts
        day = row.held_on
        if children is None:
            counts["children" + codes.NOT_KNOWN] += 1
        else:
            counts["children_in_household"] += children
        # A referral that names no perpetrator is still one case: its perpetrator not known.
        for perpetrator_born_on in perpetrators.get(referral_id) or [None]:
            counts["cases_total"] += 1
            if is_repeat:
                counts["cases_repeat"] += 1
            counts["referrals_" + category_of(agency_type, mapping)] += 1
            victim_age = codes.age_on(born_on, day)
            _tally(counts, "victims_bame", codes.is_minoritised(ethnicity or ""))
            _tally(counts, "victims_lgbt", codes.answer(lgbt or ""))
            _tally(counts, "victims_disabled", codes.answer(disability or ""))
            _tally(counts, "victims_male", codes.is_male(gender or ""))
            _tally(counts, "victims_16_17", None if victim_age is None else 16 <= victim_age <= 17)
            perpetrator_age = codes.age_on(perpetrator_born_on, day)
            _tally(
                counts,
                "perpetrators_under_18",
                None if perpetrator_age is None else perpetrator_age <= 17,
            )
    return list(rows.values())


def totals(rows: list[MeetingRow]) -> Counter[str]:
    found: Counter[str] = Counter()
    for row in rows:
        found.update(row.counts)
    return found
