"""People, referrals, risk checklists, whereabouts, sharing, walls and must-not-receive lists.

Every column that holds case data names its disclosure category in its ``#:`` comment; the
gate (consent.gate) decides per category, and ``cases.views_data`` builds what a
person may see only from a gate decision.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.core.clock import now
from hub.core.db import Base, Code


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    DEFERRED = "deferred"
    HEARD = "heard"
    CLOSED = "closed"
    TRANSFERRED = "transferred"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class PartyRole(StrEnum):
    VICTIM = "victim"
    PERPETRATOR = "perpetrator"
    CHILD = "child"
    HOUSEHOLD = "household"


class Person(Base):
    """A person named in a referral. Matching never merges people silently."""

    __tablename__ = "people"
    __table_args__ = (
        Index("ix_people_area_nhs", "area_id", "nhs_number"),
        Index("ix_people_area_police", "area_id", "police_person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    #: identity. Family name is shown in capitals.
    given_name: Mapped[str] = mapped_column(String(120))
    family_name: Mapped[str] = mapped_column(String(120))
    #: identity: other names used, one per line.
    aliases: Mapped[str] = mapped_column(Text, default="")
    #: identity
    born_on: Mapped[date | None]
    #: identity
    gender: Mapped[str] = mapped_column(String(40), default="")
    #: identity: preferred language (and whether an interpreter is needed).
    language: Mapped[str] = mapped_column(String(80), default="")
    #: identity: NHS number, where known.
    nhs_number: Mapped[str] = mapped_column(String(20), default="")
    #: identity: the police person identifier (e.g. PNC), where known.
    police_person_id: Mapped[str] = mapped_column(String(40), default="")
    #: diversity (monitoring only)
    ethnicity: Mapped[str] = mapped_column(String(80), default="")
    #: diversity: "yes", "no", "not_known"
    disability: Mapped[str] = mapped_column(String(20), default="not_known")
    #: diversity: "yes", "no", "not_known"
    lgbt: Mapped[str] = mapped_column(String(20), default="not_known")
    #: Normalised names and aliases, for matching (not shown).
    match_key: Mapped[str] = mapped_column(String(500), default="", index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)

    #: The person's name keys (``matching.name_keys``), one row each, for indexed matching.
    keys: Mapped[list[PersonKey]] = relationship(cascade="all, delete-orphan")

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name.upper()}".strip()


class PersonKey(Base):
    """One of a person's normalised name keys ("jane smith", "j smith"): earlier referrals
    naming the same people are found through this index, never by reading every person."""

    __tablename__ = "person_match_keys"
    __table_args__ = (Index("ix_person_match_keys_area_key", "area_id", "key"),)

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(250), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"))


class Whereabouts(Base):
    """Where the victim can be found and safely contacted: kept apart, masked by default."""

    __tablename__ = "whereabouts"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    #: whereabouts
    address: Mapped[str] = mapped_column(Text, default="")
    #: whereabouts
    is_refuge: Mapped[bool] = mapped_column(default=False)
    #: whereabouts
    safe_phone: Mapped[str] = mapped_column(String(40), default="")
    #: whereabouts: when it is safe to call
    safe_times: Mapped[str] = mapped_column(String(200), default="")
    #: whereabouts: someone safe to contact instead
    safe_contact: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=now)


class Referral(Base):
    """A referral of one victim to the MARAC: the unit the agenda, minutes and tasks follow."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("referring_agency_id", "idempotency_key"),
        Index("ix_referrals_area_referred_on", "area_id", "referred_on"),
        # The agency's referral list, a page at a time, newest first.
        Index("ix_referrals_agency_created", "referring_agency_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("marac_areas.id"), index=True)
    #: A reference that names no one, e.g. "NB-2026-0042"; safe in e-mails and the ledger.
    reference: Mapped[str] = mapped_column(String(30), unique=True)
    status: Mapped[ReferralStatus] = mapped_column(
        Code(ReferralStatus, 20), default=ReferralStatus.DRAFT, index=True
    )
    referring_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: The member who referred; empty when a partner system referred through the API.
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: The API client that referred, when it came from a partner system.
    referrer_client: Mapped[str] = mapped_column(String(120), default="")
    victim_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    referred_on: Mapped[date | None]

    # Grounds (risk)
    #: risk: criterion (a), computed from the checklist score and the area threshold.
    visible_high_risk: Mapped[bool] = mapped_column(default=False)
    #: risk: criterion (b); can raise a case, never lower one.
    professional_judgement: Mapped[bool] = mapped_column(default=False)
    #: risk: the written reasons for professional judgement (required with it).
    judgement_reasons: Mapped[str] = mapped_column(Text, default="")
    #: risk: incidents in the last 12 months, for criterion (c).
    incidents_12m: Mapped[int | None]
    potential_escalation: Mapped[bool] = mapped_column(default=False)
    #: risk: criterion (d): a referral for the same victim and perpetrator within 12 months
    #: of the last one, detected by the hub.
    is_repeat: Mapped[bool] = mapped_column(default=False)
    previous_referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    #: A referral naming this one's perpetrator as victim and this victim as perpetrator.
    counter_allegation_id: Mapped[int | None] = mapped_column(
        ForeignKey("referrals.id"), index=True
    )
    #: risk: the coordinator's note on who appears to be the primary aggressor.
    primary_aggressor_note: Mapped[str] = mapped_column(Text, default="")
    #: When the coordinator closed the case, who did, and why (risk: free text).
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    closure_reason: Mapped[str] = mapped_column(Text, default="")

    # Victim awareness and the risk picture (risk)
    victim_aware: Mapped[bool | None]
    victim_unaware_reason: Mapped[str] = mapped_column(Text, default="")
    #: risk: who the victim fears.
    victim_fears: Mapped[str] = mapped_column(Text, default="")
    #: risk: who is safe, and not safe, to talk to.
    safe_to_contact: Mapped[str] = mapped_column(Text, default="")
    unsafe_to_contact: Mapped[str] = mapped_column(Text, default="")
    #: risk: the current incident (what, when, where, circumstances).
    incident: Mapped[str] = mapped_column(Text, default="")
    #: children: the children in the household (names, ages, schools, relationships).
    children: Mapped[str] = mapped_column(Text, default="")
    #: children: how many children live in the household (for the quarterly data return).
    children_count: Mapped[int | None]
    #: identity: the perpetrator's relationship to the victim.
    perpetrator_relationship: Mapped[str] = mapped_column(String(120), default="")
    #: health: injuries and relevant health needs.
    health_notes: Mapped[str] = mapped_column(Text, default="")
    #: criminal_justice
    reported_to_police: Mapped[bool | None]
    crime_reference: Mapped[str] = mapped_column(String(60), default="")
    #: criminal_justice: bail, orders, court dates
    justice_notes: Mapped[str] = mapped_column(Text, default="")
    #: risk: any previous MARAC, where and when.
    previous_marac: Mapped[str] = mapped_column(Text, default="")
    #: The Article 6 basis the referring agency relies on to refer the case to the MARAC
    #: (public task, law enforcement, legitimate interests...): under it the coordinator and
    #: chair see what triage needs.
    referral_basis: Mapped[str | None] = mapped_column(String(30))
    line_manager_consulted: Mapped[bool] = mapped_column(default=False)
    marac_rep_consulted: Mapped[bool] = mapped_column(default=False)
    #: Where a MARAC-to-MARAC transfer came from.
    transferred_from: Mapped[str] = mapped_column(String(120), default="")
    #: Restriction of processing (UK GDPR Art. 18), set and lifted by the data protection
    #: officer: while set, only the area's coordinator and the officer may see the case.
    restricted_at: Mapped[datetime | None]
    restricted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    restriction_ground: Mapped[str | None] = mapped_column(String(30))
    #: The officer's note on the restriction (never in the ledger).
    restriction_note: Mapped[str] = mapped_column(Text, default="")

    # Lifecycle
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decision_reason: Mapped[str] = mapped_column(Text, default="")
    #: An API client's Idempotency-Key, so a retried call does not make a second referral.
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now, onupdate=now)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    victim: Mapped[Person | None] = relationship(foreign_keys=[victim_id])
    parties: Mapped[list[ReferralParty]] = relationship(
        cascade="all, delete-orphan", order_by="ReferralParty.id"
    )
    assessment: Mapped[RiskAssessment | None] = relationship(
        cascade="all, delete-orphan", uselist=False
    )
    shares: Mapped[list[ReferralShare]] = relationship(cascade="all, delete-orphan")
    team: Mapped[list[CaseTeamMember]] = relationship(cascade="all, delete-orphan")
    must_not_receive: Mapped[list[MustNotReceive]] = relationship(cascade="all, delete-orphan")

    @property
    def meets_criteria(self) -> bool:
        """Whether any of the four referral criteria holds."""
        return (
            self.visible_high_risk
            or self.professional_judgement
            or self.potential_escalation
            or self.is_repeat
        )

    @property
    def criteria_labels(self) -> list[str]:
        labels = []
        if self.visible_high_risk:
            labels.append("Visible high risk")
        if self.professional_judgement:
            labels.append("Professional judgement")
        if self.potential_escalation:
            labels.append("Potential escalation")
        if self.is_repeat:
            labels.append("Repeat")
        return labels

    def people_in(self, role: PartyRole) -> list[Person]:
        return [p.person for p in self.parties if p.role == role.value]


class ReferralParty(Base):
    """A person's part in a referral: perpetrator, child, other household member."""

    __tablename__ = "referral_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    #: identity (perpetrator) or children: relationship to the victim.
    relationship_to_victim: Mapped[str] = mapped_column(String(120), default="")
    #: children: school, and relationship to each party.
    notes: Mapped[str] = mapped_column(Text, default="")

    person: Mapped[Person] = relationship()


class RiskAssessment(Base):
    """The risk checklist as answered: configurable questions, Yes / No / Don't know."""

    __tablename__ = "risk_assessments"

    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), primary_key=True
    )
    #: Which checklist and version, e.g. "safelives-dash-24".
    checklist: Mapped[str] = mapped_column(String(60))
    #: risk: {question id: {"answer": "yes|no|dont_know", "source": "..."}}
    answers: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON, default=dict)
    #: risk: the number of Yes answers.
    score: Mapped[int] = mapped_column(default=0)
    #: risk: standard, medium or high (area settings).
    band: Mapped[str] = mapped_column(String(20), default="standard")
    #: risk: answers to add-on checklists (the stalking add-on), by checklist key; scored
    #: on their own and never added to ``score``.
    addon_answers: Mapped[dict[str, dict[str, dict[str, str]]]] = mapped_column(JSON, default=dict)
    assessed_on: Mapped[date | None]
    assessor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class ReferralShare(Base):
    """An agency the referral was shared with: it then has need to know."""

    __tablename__ = "referral_shares"
    __table_args__ = (UniqueConstraint("referral_id", "agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))
    shared_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    shared_at: Mapped[datetime] = mapped_column(default=now)


class CaseTeamMember(Base):
    """A member of an agency assigned to work on the case (need to know inside the agency)."""

    __tablename__ = "case_team"
    __table_args__ = (UniqueConstraint("referral_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    added_at: Mapped[datetime] = mapped_column(default=now)


class MustNotReceive(Base):
    """Someone who must never receive anything about this case (perpetrators, feared people)."""

    __tablename__ = "must_not_receive"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    #: A hub member who must never be shown the case (e.g. a relative who works at a partner).
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    #: risk: the name as the victim gave it, for people who are not hub members.
    name: Mapped[str] = mapped_column(String(160), default="")
    reason: Mapped[str] = mapped_column(String(300), default="")


class ConflictWall(Base):
    """One agency serves both victim and perpetrator: separate caseworkers, walled apart."""

    __tablename__ = "conflict_walls"

    id: Mapped[int] = mapped_column(primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: The victim's case, which the perpetrator's side must never see.
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    #: The caseworker serving the perpetrator.
    perpetrator_worker_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    #: The caseworker serving the victim.
    victim_worker_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=now)


class WhereaboutsReveal(Base):
    """Why someone revealed a victim's whereabouts. Kept here, not in the ledger, because it
    is free text; the ledger entry points at it by id."""

    __tablename__ = "whereabouts_reveals"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    reason: Mapped[str] = mapped_column(Text)
    revealed_at: Mapped[datetime] = mapped_column(default=now)


class RepeatReview(Base):
    """The coordinator's answer to a possible repeat: the same people as an earlier referral,
    or not. A possible match is never acted on until someone answers it here."""

    __tablename__ = "repeat_reviews"
    __table_args__ = (UniqueConstraint("referral_id", "earlier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    #: The earlier referral the hub thought might name the same victim and perpetrator.
    earlier_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    same_people: Mapped[bool]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    reviewed_at: Mapped[datetime] = mapped_column(default=now)


class RestrictionGround(StrEnum):
    """Why processing is restricted: the four grounds of UK GDPR Art. 18(1)."""

    ACCURACY_CONTESTED = "accuracy_contested"  # 18(1)(a), while the accuracy is verified
    UNLAWFUL = "unlawful_processing"  # 18(1)(b), restriction asked for instead of erasure
    LEGAL_CLAIMS = "legal_claims"  # 18(1)(c), kept for the subject's legal claims
    OBJECTION = "objection_pending"  # 18(1)(d), while an objection under Art. 21 is weighed

    @property
    def label(self) -> str:
        return {
            "accuracy_contested": "The person contests its accuracy (Art. 18(1)(a))",
            "unlawful_processing": "Processing is unlawful and the person asks for "
            "restriction instead of erasure (Art. 18(1)(b))",
            "legal_claims": "The person needs it kept for a legal claim (Art. 18(1)(c))",
            "objection_pending": "The person has objected and the objection is being "
            "weighed (Art. 18(1)(d))",
        }[self.value]


class GrantKind(StrEnum):
    """Why an agency needs to know a case (the referring agency needs no grant)."""

    SHARED = "shared"  # the referrer or the coordinator gave it the case
    INVITED = "invited"  # it received a circulated agenda that lists the case


class NeedToKnowGrant(Base):
    """That an agency needs to know a case, and why: written by the operation that creates
    the relation (sharing, circulating an agenda), read by the gate through ``case_facts``.

    Grants are never removed by later changes to the agenda: an agency that received an
    agenda listing the case may hold actions from the meeting and gets its minutes.
    """

    __tablename__ = "need_to_know_grants"
    __table_args__ = (UniqueConstraint("referral_id", "agency_id", "kind", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    #: One of GrantKind.
    kind: Mapped[str] = mapped_column(String(20))
    #: The purpose the agency holds the case for (consent is judged for it).
    purpose: Mapped[str] = mapped_column(String(30))
    #: What made it: "share:<id>" or "meeting:<id>".
    source: Mapped[str] = mapped_column(String(40))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    granted_at: Mapped[datetime] = mapped_column(default=now)


class PossibleRepeat(Base):
    """An earlier referral, within 12 months, that may name the same victim and perpetrator:
    found once, at submission, by indexed keys (``RepeatReview`` holds the coordinator's
    answer). Lists read these rows instead of matching the area's history again."""

    __tablename__ = "possible_repeats"
    __table_args__ = (UniqueConstraint("referral_id", "earlier_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    earlier_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    #: Why the hub thinks so, in plain words ("same family name and first initial", ...).
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    found_at: Mapped[datetime] = mapped_column(default=now)
