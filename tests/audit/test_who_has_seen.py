"""The auditor's view of one case: who was shown what, who was refused, who acted on it."""

from __future__ import annotations

from cases import services
from hub.core import db
from tests.support import cases
from tests.support.web import ledger_results, signed_in, text
from tests.support.world import actor_of


def test_who_has_seen_separates_shown_refused_and_other_actions(app, world) -> None:
    officer = actor_of(world["police_officer"])
    referral_id = cases.draft(officer)
    cases.with_consent(officer, referral_id)
    cases.submit(officer, referral_id)
    nurse = signed_in(app.test_client(), world["nurse"])
    assert nurse.get(f"/cases/{referral_id}").status_code == 404  # no need to know: refused
    coordinator = signed_in(app.test_client(), world["coordinator"])
    assert coordinator.get(f"/cases/{referral_id}").status_code == 200

    with db.unit_of_work():
        reference = services.get_referral(referral_id).reference
    auditor = signed_in(app.test_client(), world["auditor"])
    found = ledger_results(auditor.get(f"/ledger?case={reference}"))
    assert f'href="/ledger/cases/{reference}"' in found  # each result links to the case
    page = text(auditor.get(f"/ledger/cases/{reference}"))
    assert f"Who has seen case {reference}" in page

    def section(agency: str) -> str:
        return page.split(f'<h2 class="govuk-heading-m">{agency}</h2>', 1)[1].split("<h2", 1)[0]

    hospital = section("Testshire Hospital")
    assert "<strong>Refused</strong> (1)" in hospital and "Shown" not in hospital
    assert "why refused: no_need_to_know" in hospital
    community = section("Testshire Community Safety")
    assert "<strong>Shown</strong>" in community and "Refused" not in community
    police = section("Testshire Police")
    assert "<strong>Other actions on the case</strong>" in police  # drafted, submitted
