"""Retention end to end: years later, expired cases are queued, confirmed and destroyed for
good; a case on legal hold is not; the ledger still verifies, and the auditor sees
"erased under policy vN on <date>" where the case was."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from audit import services as ledger
from audit import verifier
from audit.actions import LedgerAction
from audit.models import AuditEntry, AuditEntryRef
from cases.models import Person, PossibleRepeat, Referral
from hub.core import db
from hub.core.clock import today_london
from hub.core.errors import Conflict, Forbidden, ValidationFailed
from retention import services
from retention.models import (
    Erasure,
    HoldKind,
    RecordClass,
    RetentionAction,
    RetentionReview,
    ReviewStatus,
    Trigger,
)
from tests.retention.conftest import (
    HEARD_PEOPLE,
    HEARD_TEXT,
    HELD_ADDRESS,
    a_year,
    adopt,
    all_rows_text,
    nightly,
    years_later,
)
from tests.support import cases
from tests.support.ledger import entries_naming
from tests.support.web import signed_in, text
from tests.support.world import actor_of


def _export_and_verify(app, out: Path) -> verifier.Report:
    database = app.extensions["hub.db"]
    ledger.seal(database)
    with db.unit_of_work(database) as uow:
        ledger.sign_checkpoint(uow.session, app.ledger_key(), force=True)
    with db.unit_of_work(database) as uow:
        ledger.export_bundle(uow.session, app.ledger_key(), out)
    return verifier.verify_bundle(out)


def _checkpoint(app) -> None:
    database = app.extensions["hub.db"]
    ledger.seal(database)
    with db.unit_of_work(database) as uow:
        ledger.sign_checkpoint(uow.session, app.ledger_key(), force=True)


def _queued(case_id: int) -> dict[RecordClass, ReviewStatus]:
    with db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(RetentionReview).where(RetentionReview.case_id == case_id)
        ).scalars()
        return {r.record_class: r.status for r in rows}


def test_expired_cases_are_queued_confirmed_and_destroyed_and_a_held_one_is_not(
    app, world, tmp_path
) -> None:
    year = a_year(world)
    coordinator = year.coordinator
    version = adopt(coordinator)
    with db.unit_of_work():
        held = services.set_hold(
            coordinator,
            services.HoldData(
                _reference(year.other), HoldKind.DHR.value, "CSP commissioned a DHR on 3 March"
            ),
        )
    _checkpoint(app)  # a checkpoint signed before anything is destroyed must still verify

    with years_later(6, days=60) as later:
        nightly()
        for case_id in year.heard:
            assert _queued(case_id)[RecordClass.CASE] is ReviewStatus.DUE
        assert _queued(year.other) == {}  # on legal hold: its clock has stopped
        with db.unit_of_work():
            rows = services.queue(coordinator)
        assert {r.case_id for r in rows} == set(year.heard)
        assert all(not r.held and r.policy_version == version for r in rows)
        # Nothing is destroyed until the coordinator confirms (the policy says "review").
        nightly()
        with db.unit_of_work() as uow:
            assert uow.session.scalar(select(func.count()).select_from(Erasure)) == 0
        for row in rows:
            with db.unit_of_work():
                services.confirm(coordinator, row.key)
        destroyed = nightly()

    (area_run,) = [d for d in destroyed if d[2]]
    assert area_run[2][RecordClass.CASE.value] == 2
    with db.unit_of_work() as uow:
        assert (
            uow.session.scalar(
                select(func.count()).select_from(Referral).where(Referral.id.in_(year.heard))
            )
            == 0
        )
        assert uow.session.get(Referral, year.other) is not None
        erased = {e.case_id: e for e in uow.session.execute(select(Erasure)).scalars()}
        assert set(erased) == set(year.heard)
        assert all(e.policy_version == version for e in erased.values())
        assert not uow.session.execute(
            select(Person).where(Person.family_name.in_(HEARD_PEOPLE))
        ).first()
    everything = all_rows_text()
    for gone in (*HEARD_PEOPLE, *HEARD_TEXT):
        assert not re.search(rf"\b{re.escape(gone)}\b", everything), gone
    assert HELD_ADDRESS in everything  # the held case is whole

    # One ledger entry for the destruction: classes, counts, the version; no personal data.
    (entry,) = entries_naming("area", world.area_id, LedgerAction.RETENTION_DESTROYED)
    assert entry["policy_version"] == version and entry["classes"] == {"case": 2}
    assert sorted(entry["cases"]) == sorted(year.heard) and entry["rows"]["referrals"] == 2
    body = json.dumps(entry)
    assert not any(name in body for name in HEARD_PEOPLE)
    (hold_set,) = entries_naming("case", year.other, LedgerAction.RETENTION_HOLD_SET)
    assert hold_set["hold"] == held.id and hold_set["kind"] == "dhr"
    assert "DHR on 3 March" not in json.dumps(hold_set)

    # The whole chain and every checkpoint still verify, the one from before included.
    report = _export_and_verify(app, tmp_path / "bundle")
    assert report.ok, report.summary()
    assert report.checkpoints >= 2

    # The auditor's pages say the case was erased, under which version, when.
    day = f"{later.day} {later:%B %Y}"
    reference = erased[year.heard[0]].reference
    auditor = signed_in(app.test_client(), world["auditor"])
    page = text(auditor.get(f"/ledger/cases/{reference}"))
    assert f"Case {reference}: erased under policy v{version} on {day}" in page
    for action in (LedgerAction.RETENTION_DESTROYED, LedgerAction.REFERRAL_SUBMITTED):
        shown = text(auditor.get(f"/ledger/entries/{_entry_id(year.heard[0], action)}"))
        assert f"Case {reference}: erased under policy v{version} on {day}" in shown, action


def _entry_id(case_id: int, action: str) -> int:
    with db.unit_of_work() as uow:
        return uow.session.execute(
            select(AuditEntry.id)
            .join(AuditEntryRef, AuditEntryRef.entry_id == AuditEntry.id)
            .where(
                AuditEntryRef.kind == "case",
                AuditEntryRef.ref == str(case_id),
                AuditEntry.action == action,
            )
        ).scalar_one()


def _reference(case_id: int) -> str:
    with db.unit_of_work() as uow:
        return uow.session.get_one(Referral, case_id).reference


def test_nothing_is_queued_before_the_area_adopts_a_policy(app, world) -> None:
    year = a_year(world)
    with years_later(20):
        nightly()
    with db.unit_of_work() as uow:
        assert uow.session.scalar(select(func.count()).select_from(RetentionReview)) == 0
        assert uow.session.get(Referral, year.heard[0]) is not None


def test_a_hold_stops_the_clock_and_its_time_is_added_when_lifted(app, world) -> None:
    year = a_year(world)
    coordinator = year.coordinator
    adopt(coordinator)
    with db.unit_of_work():
        hold = services.set_hold(
            coordinator,
            services.HoldData(_reference(year.heard[0]), "litigation", "Civil claim issued"),
        )
    with years_later(0, days=100):
        with db.unit_of_work():
            with pytest.raises(ValidationFailed):
                services.lift_hold(coordinator, hold.id, "  ")
            services.lift_hold(coordinator, hold.id, "Claim settled")
        with db.unit_of_work(), pytest.raises(Conflict):
            services.lift_hold(coordinator, hold.id, "again")
    (lifted,) = entries_naming("case", year.heard[0], LedgerAction.RETENTION_HOLD_LIFTED)
    assert lifted["hold"] == hold.id and "settled" not in json.dumps(lifted)
    with years_later(6, days=60):  # past six years, within six years and 100 days
        nightly()
    assert RecordClass.CASE not in _queued(year.heard[0])
    assert _queued(year.heard[1])[RecordClass.CASE] is ReviewStatus.DUE
    with years_later(6, days=200):
        nightly()
    assert _queued(year.heard[0])[RecordClass.CASE] is ReviewStatus.DUE


def test_a_hold_set_on_a_queued_case_keeps_it_visibly_and_refuses_confirmation(app, world) -> None:
    year = a_year(world)
    coordinator = year.coordinator
    adopt(coordinator)
    with years_later(6, days=60):
        nightly()
        with db.unit_of_work():
            services.set_hold(
                coordinator,
                services.HoldData(_reference(year.heard[0]), "safeguarding_review", "SAR panel"),
            )
        with db.unit_of_work():
            (row,) = [r for r in services.queue(coordinator) if r.case_id == year.heard[0]]
            assert row.held
            with pytest.raises(Conflict, match="legal hold"):
                services.confirm(coordinator, row.key)
        nightly()
    with db.unit_of_work() as uow:
        assert uow.session.get(Referral, year.heard[0]) is not None


def test_extending_keeps_the_case_until_the_date_then_it_is_due_again(app, world) -> None:
    year = a_year(world)
    coordinator = year.coordinator
    adopt(coordinator)
    case_id = year.heard[0]
    with years_later(6, days=60):
        nightly()
        key = f"case-{case_id}"
        with db.unit_of_work():
            with pytest.raises(ValidationFailed) as refused:
                services.extend(coordinator, key, None, "", today_london())
            assert set(refused.value.errors) == {"until", "reason"}
            services.extend(
                coordinator,
                key,
                today_london() + timedelta(days=90),
                "A complaint about the case is still open",
                today_london(),
            )
        nightly()
        assert set(_queued(case_id).values()) == {ReviewStatus.EXTENDED}
    (extended,) = entries_naming("case", case_id, LedgerAction.RETENTION_EXTENDED)
    assert "complaint" not in json.dumps(extended)
    with years_later(6, days=160):
        nightly()
    assert _queued(case_id)[RecordClass.CASE] is ReviewStatus.DUE


def test_a_class_whose_action_is_delete_goes_after_the_notice_without_a_decision(
    app, world
) -> None:
    year = a_year(world)
    coordinator = year.coordinator
    adopt(coordinator, whereabouts=(12, Trigger.CASE_CLOSED, RetentionAction.DELETE))
    with years_later(1, days=30):
        nightly()
        assert _queued(year.heard[0]) == {RecordClass.WHEREABOUTS: ReviewStatus.DUE}
    with years_later(1, days=61):
        nightly()
    assert _queued(year.heard[0]) == {RecordClass.WHEREABOUTS: ReviewStatus.DESTROYED}
    everything = all_rows_text()
    assert "Secret Street" not in everything  # the heard cases' address is gone
    assert "Example" in everything  # the case itself stays
    assert HELD_ADDRESS in everything  # the open case's whereabouts are not due


def test_repeat_detection_still_finds_a_case_until_it_is_destroyed(app, world) -> None:
    year = a_year(world)
    coordinator = year.coordinator
    # Even a case kept only 12 months from closure stays 12 months from its last referral.
    adopt(coordinator, case=(12, Trigger.CASE_CLOSED, RetentionAction.DELETE))
    with years_later(0, days=330):
        nightly()
        assert RecordClass.CASE not in _queued(year.heard[0])
        nurse = actor_of(world["nurse"])
        again = cases.draft(nurse)  # the same victim and perpetrator as the first case
        cases.with_consent(nurse, again)
        cases.submit(nurse, again)
    with db.unit_of_work() as uow:
        found = set(
            uow.session.execute(
                select(PossibleRepeat.earlier_id).where(PossibleRepeat.referral_id == again)
            ).scalars()
        )
        found.add(uow.session.get_one(Referral, again).previous_referral_id)
        assert year.heard[0] in found
    # The repeat restarts the earlier case's clock: its last referral is now the new one.
    with years_later(1, days=30):
        nightly()
    assert RecordClass.CASE not in _queued(year.heard[0])


def test_destroying_a_subject_access_file(app, world) -> None:
    from subject_access import services as sar
    from tests.subject_access.conftest import open_request
    from tests.support.cases import VICTIM

    year = a_year(world)
    dpo = actor_of(world["auditor"])
    request_id = open_request(dpo, VICTIM.given, VICTIM.family, VICTIM.born_on)
    with db.unit_of_work():
        sar.refuse(dpo, sar.get_request(dpo, request_id), "Manifestly unfounded: repeated request")
    adopt(year.coordinator)
    with years_later(2, days=30):
        nightly()
        # Nobody but the officer learns that a request was made.
        with db.unit_of_work(), pytest.raises(Forbidden):
            services.confirm(year.coordinator, f"sar-{request_id}")
        with db.unit_of_work():
            assert all(r.is_case for r in services.queue(year.coordinator))
            (row,) = services.queue(dpo, files=True)
            assert row.key == f"sar-{request_id}" and row.reference == f"SAR-{request_id}"
            services.confirm(dpo, row.key)
        nightly()
    with db.unit_of_work() as uow:
        from subject_access.models import SubjectAccessRequest

        assert uow.session.get(SubjectAccessRequest, request_id) is None
        assert uow.session.get(Referral, year.heard[0]) is not None
    with db.unit_of_work() as uow:
        last = uow.session.execute(
            select(AuditEntry.body)
            .where(AuditEntry.action == LedgerAction.RETENTION_DESTROYED)
            .order_by(AuditEntry.id.desc())
        ).scalar()
    assert json.loads(last)["classes"] == {"subject_access": 1}
