"""Property tests over generated consents, decisions, relations and actors.

Whatever combination hypothesis builds: no category is shown without a lawful basis that
covers it, walls, blocks and lapsed protocols show nothing, whereabouts need a reason, and
every decision leaves exactly one ledger entry naming what was shown and withheld.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from agencies.models import Agency
from audit.models import AuditEntry
from cases import services
from cases.models import CaseTeamMember, ConflictWall, ReferralShare
from consent import gate
from consent.categories import CASE_CATEGORIES, TRIAGE_CATEGORIES, Category, ConsentState, Purpose
from consent.models import ConsentRecord, SharingDecision
from hub.core import db
from hub.core.clock import now
from tests.support import cases
from tests.support.world import actor_of

PERSONAS = [
    "police_officer",
    "police_rep",
    "nurse",
    "health_rep",
    "housing_officer",
    "idva",
    "coordinator",
    "chair",
]
#: The agency types of the test world, so generated scopes often name the actor's own.
TYPES = ["other", "police", "acute_health", "housing", "idva_service"]


class _Discard(Exception):
    """Roll an example back so each one starts from the same submitted case."""


consents = st.lists(
    st.fixed_dictionaries(
        {
            "state": st.sampled_from(list(ConsentState)),
            "types": st.lists(st.sampled_from(TYPES), max_size=4, unique=True),
            "categories": st.lists(st.sampled_from(CASE_CATEGORIES), max_size=5, unique=True),
            "purposes": st.lists(
                st.sampled_from(list(Purpose)), min_size=1, max_size=2, unique=True
            ),
            "withdrawn": st.booleans(),
            "expired": st.booleans(),
        }
    ),
    max_size=3,
)
decisions = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(["pending", "approved", "refused"]),
            "all_partners": st.booleans(),
            "categories": st.lists(st.sampled_from(CASE_CATEGORIES), max_size=5, unique=True),
            "statutory": st.sampled_from([None, "6(1)(e)", "dpa2018-part3"]),
            "voluntary": st.sampled_from([None, "6(1)(f)", "6(1)(e)"]),
            "special": st.sampled_from([None, "sch1-para18"]),
            "expired": st.booleans(),
        }
    ),
    max_size=2,
)


@pytest.fixture
def submitted(world):
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    with db.unit_of_work() as uow:  # start from no consent at all
        for row in uow.session.execute(select(ConsentRecord)).scalars():
            uow.session.delete(row)
    return referral_id


def _ledger_count() -> int:
    with db.unit_of_work() as uow:
        return int(uow.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one())


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    persona=st.sampled_from(PERSONAS),
    consent_rows=consents,
    decision_rows=decisions,
    shared=st.lists(st.sampled_from(["health", "housing", "idva"]), unique=True),
    on_team=st.booleans(),
    walled=st.booleans(),
    blocked=st.booleans(),
    isp_lapsed=st.booleans(),
    reason=st.sampled_from([None, "", "short", "a" * 30]),
    purpose=st.sampled_from(list(Purpose)),
)
def test_nothing_is_shown_without_a_basis_and_everything_is_recorded(
    app,
    world,
    submitted,
    persona,
    consent_rows,
    decision_rows,
    shared,
    on_team,
    walled,
    blocked,
    isp_lapsed,
    reason,
    purpose,
) -> None:
    actor = actor_of(world[persona])
    before = _ledger_count()
    moment = now()
    with pytest.raises(_Discard), db.unit_of_work() as uow:
        s = uow.session
        referral = services.get_referral(submitted)
        for key in shared:
            s.add(
                ReferralShare(referral_id=submitted, agency_id=world.agencies[key], purpose="marac")
            )
        if on_team:
            s.add(CaseTeamMember(referral_id=submitted, member_id=actor.member_id))
        if walled:
            s.add(
                ConflictWall(
                    agency_id=actor.agency_id,
                    referral_id=submitted,
                    perpetrator_worker_id=actor.member_id,
                )
            )
        if blocked:
            from cases.models import MustNotReceive

            s.add(MustNotReceive(referral_id=submitted, member_id=actor.member_id))
        for c in consent_rows:
            s.add(
                ConsentRecord(
                    referral_id=submitted,
                    subject_id=referral.victim_id,
                    state=c["state"].value,
                    purposes=[p.value for p in c["purposes"]],
                    categories=[x.value for x in c["categories"]],
                    recipient_agency_types=c["types"],
                    evidence="test",
                    obtained_by_id=world["police_officer"].member_id,
                    valid_from=moment - timedelta(days=1),
                    valid_until=moment - timedelta(hours=1) if c["expired"] else None,
                    withdrawn_at=moment - timedelta(minutes=5) if c["withdrawn"] else None,
                )
            )
        for d in decision_rows:
            s.add(
                SharingDecision(
                    referral_id=submitted,
                    all_partners=d["all_partners"],
                    recipient_agency_ids=[] if d["all_partners"] else [world.agencies["health"]],
                    categories=[x.value for x in d["categories"]],
                    purpose="marac",
                    rationale="x" * 50,
                    basis_statutory=d["statutory"],
                    basis_voluntary=d["voluntary"],
                    condition_special=d["special"],
                    status=d["status"],
                    requested_by_id=world["police_officer"].member_id,
                    expires_at=moment - timedelta(hours=1) if d["expired"] else None,
                )
            )
        if isp_lapsed:
            s.get(Agency, actor.agency_id).isp_review_due_on = (moment - timedelta(days=2)).date()
        s.flush()
        s.expire_all()
        referral = services.get_referral(submitted)
        facts = services.case_facts(referral)
        in_transaction = s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
        result = gate.disclose(actor, facts, list(CASE_CATEGORIES), purpose, reveal_reason=reason)
        agency = s.get(Agency, actor.agency_id)
        shown = set(result.shown)

        if walled or blocked or isp_lapsed:
            assert shown == set()
            assert result.refused
        if Category.WHEREABOUTS in shown:
            assert reason is not None and len(reason.strip()) >= gate.MIN_REVEAL_REASON
        for category in shown:
            basis = result.decisions[category].basis
            if basis["basis"] == "own_record":
                assert actor.agency_id == facts.referring_agency_id
            elif basis["basis"] == "referral":
                # The referral itself discloses what triage needs to the MARAC, on its basis.
                assert result.relation is gate.Relation.MARAC
                assert category in TRIAGE_CATEGORIES
                assert basis["art6"] == facts.referral_basis
            elif basis["basis"] == "consent":
                row = s.get(ConsentRecord, basis["consent"])
                assert row.in_force(now()) and purpose.value in row.purposes
                assert category.value in row.categories and agency.type in (
                    row.recipient_agency_types
                )
            else:
                row = s.get(SharingDecision, basis["decision"])
                assert row.in_force(now()) and category.value in row.categories
                assert row.all_partners or agency.id in row.recipient_agency_ids
                if agency.sector == "voluntary":
                    assert basis["art6"] == row.basis_voluntary != "6(1)(e)"
                if category.is_special:
                    assert basis["art9"] == row.condition_special
        if not result.refused:
            entries = (
                s.execute(select(AuditEntry.body).order_by(AuditEntry.id.desc()).limit(1))
                .scalars()
                .all()
            )
            now_count = s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
            assert now_count == in_transaction + 1
            body = json.loads(entries[0])
            assert set(body["categories"]) == {c.value for c in shown}
            assert set(body["withheld"]) == {d.category.value for d in result.withheld}
        raise _Discard
    if result.refused:
        # The refusal was written in its own transaction and survived the rollback.
        assert _ledger_count() == before + 1
    else:
        assert _ledger_count() == before
