"""The area's risk settings: thresholds, bands, and which risk checklists referrers may use."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from agencies.models import MaracArea
from audit.models import AuditEntry
from cases import checklists, services
from hub.core import db
from hub.core.errors import ValidationFailed
from tests.support import cases
from tests.support.web import signed_in, submit, text
from tests.support.world import actor_of

POLICE_DASH = "police-dash-2009-27"
STALKING = "stalking-addon-11"
SETTINGS = {
    "high_risk_threshold": "14",
    "band_standard_max": "9",
    "band_medium_max": "13",
    "escalation_threshold": "3",
}


def _signed_in(app, person):
    return signed_in(app.test_client(), person)


def _area() -> MaracArea:
    with db.unit_of_work() as uow:
        return uow.session.execute(select(MaracArea)).scalars().one()


def _enable(world, *keys: str) -> None:
    with db.unit_of_work():
        services.update_risk_settings(
            actor_of(world["admin"]),
            services.AreaRiskSettings(3, 9, 13, 14, list(keys)),
        )


def test_the_administrator_enables_checklists_and_changes_thresholds(app, world) -> None:
    admin = _signed_in(app, world["admin"])
    page = text(admin.get("/admin/risk-settings"))
    assert "Police DASH" in page and "Stalking and harassment add-on" in page
    saved = submit(
        admin,
        "/admin/risk-settings",
        {**SETTINGS, "escalation_threshold": "5", "extra_checklists": [POLICE_DASH, STALKING]},
    )
    assert saved.status_code == 303
    area = _area()
    assert area.escalation_threshold == 5
    assert area.extra_checklists == [POLICE_DASH, STALKING]
    with db.unit_of_work() as uow:
        body = uow.session.execute(
            select(AuditEntry.body).where(AuditEntry.action == "area:risk_settings_changed")
        ).scalar_one()
    assert json.loads(body)["checklists"] == [POLICE_DASH, STALKING]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"band_medium_max": "9"}, "The medium band must start above the standard band"),
        ({"high_risk_threshold": "12"}, "must be above the medium band"),
        ({"escalation_threshold": "0"}, "Enter a number of incidents from 1 to 20"),
        ({"escalation_threshold": "three"}, "Enter a whole number"),
        ({"extra_checklists": "made-up-checklist"}, "Select only options from the list"),
    ],
)
def test_bad_settings_say_what_to_fix_and_change_nothing(app, world, change, message) -> None:
    admin = _signed_in(app, world["admin"])
    response = submit(admin, "/admin/risk-settings", {**SETTINGS, **change})
    assert response.status_code == 422
    page = text(response)
    assert "There is a problem" in page and message in page
    area = _area()
    assert (area.escalation_threshold, area.band_medium_max, area.high_risk_threshold) == (
        3,
        13,
        14,
    )
    assert area.extra_checklists == []


@pytest.mark.parametrize("persona", ["coordinator", "police_officer", "auditor"])
def test_only_the_administrator_sees_the_risk_settings(app, world, persona) -> None:
    client = _signed_in(app, world[persona])
    assert client.get("/admin/risk-settings").status_code == 403


def _risk_answers(checklist_key: str, yes: int) -> dict[str, str]:
    questions = checklists.load_checklists()[checklist_key].questions
    return {f"q_{q.id}": "yes" if i < yes else "no" for i, q in enumerate(questions)}


def test_a_referrer_uses_the_police_dash_once_the_area_offers_it(app, world) -> None:
    officer_actor = actor_of(world["police_officer"])
    referral_id = cases.draft(officer_actor, yes=0)
    officer = _signed_in(app, world["police_officer"])
    url = f"/referrals/{referral_id}/risk"

    # Not offered yet: no choice on the page, and asking for it by address changes nothing.
    page = text(officer.get(url + f"?checklist={POLICE_DASH}"))
    assert "Which risk checklist are you using?" not in page
    assert len(re.findall(r'name="q_[^"]+" type="radio" value="yes"', page)) == 24

    _enable(world, POLICE_DASH)
    page = text(officer.get(url))
    assert "Which risk checklist are you using?" in page
    page = text(officer.get(url + f"?checklist={POLICE_DASH}"))
    assert len(re.findall(r'name="q_[^"]+" type="radio" value="yes"', page)) == 27
    # The draft's answers were to the SafeLives questions: nothing is carried across.
    assert not re.search(r'name="q_[^"]+" type="radio" value="no" checked', page)
    saved = submit(
        officer, url + f"?checklist={POLICE_DASH}", _risk_answers(POLICE_DASH, 16), form_url=url
    )
    assert saved.status_code == 302, text(saved)[:2000]
    with db.unit_of_work():
        referral = services.get_referral(referral_id)
        assert referral.assessment.checklist == POLICE_DASH
        assert referral.assessment.score == 16 and referral.visible_high_risk
    # Coming back, the page shows the checklist the referral was answered on.
    assert "checked" in re.search(
        rf'<input[^>]+value="{POLICE_DASH}"[^>]*>', text(officer.get(url))
    ).group(0)


def test_stalking_add_on_answers_are_kept_and_scored_apart(app, world) -> None:
    _enable(world, STALKING)
    officer_actor = actor_of(world["police_officer"])
    referral_id = cases.draft(officer_actor, yes=0)
    officer = _signed_in(app, world["police_officer"])
    url = f"/referrals/{referral_id}/risk"
    page = text(officer.get(url))
    assert "Stalking and harassment add-on" in page
    addon = checklists.load_checklists()[STALKING].questions
    answers = {
        **_risk_answers(checklists.DEFAULT_CHECKLIST, 15),
        **{f"a_{q.id}": "yes" if i < 3 else "no" for i, q in enumerate(addon)},
    }
    saved = submit(officer, url, answers)
    assert saved.status_code == 302, text(saved)[:2000]
    with db.unit_of_work():
        assessment = services.get_referral(referral_id).assessment
        assert assessment.score == 15  # the add-on never adds to the DASH score
        assert len(assessment.addon_answers[STALKING]) == 11
    cases.with_consent(officer_actor, referral_id)
    cases.submit(officer_actor, referral_id)
    case_page = text(officer.get(f"/cases/{referral_id}"))
    assert "3 Yes of 11 (not part of the score)" in case_page


def test_saving_answers_on_a_checklist_the_area_does_not_offer_is_refused(app, world) -> None:
    officer_actor = actor_of(world["police_officer"])
    referral_id = cases.draft(officer_actor, yes=0)
    with db.unit_of_work(), pytest.raises(ValidationFailed) as raised:
        services.save_risk(
            officer_actor,
            services.get_referral(referral_id),
            services.RiskData(checklist=POLICE_DASH, answers={}),
        )
    assert "checklist" in raised.value.errors


def test_the_refused_downgrade_names_the_areas_own_threshold(app, world) -> None:
    with db.unit_of_work():
        services.update_risk_settings(
            actor_of(world["admin"]), services.AreaRiskSettings(3, 7, 11, 12, [])
        )
    officer_actor = actor_of(world["police_officer"])
    referral_id = cases.draft(officer_actor, yes=0)
    with db.unit_of_work(), pytest.raises(ValidationFailed) as raised:
        services.save_risk(
            officer_actor,
            services.get_referral(referral_id),
            services.RiskData(
                checklist=checklists.DEFAULT_CHECKLIST,
                answers={},
                downgrade=True,
            ),
        )
    assert "12 or more Yes answers" in raised.value.errors["judgement_reasons"]
