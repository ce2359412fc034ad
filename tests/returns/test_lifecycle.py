"""The return's lifecycle through its page: validate with warnings, submit the frozen
figures, refuse a submission whose figures moved, and send a correction with a reason."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from hub.core import db
from returns.models import QuarterlyReturn, ReturnStatus
from tests.returns.conftest import Case, hold
from tests.support.web import signed_in, submit, text

PAGE = "/returns/2026-Q2"


def _versions() -> list[tuple[int, ReturnStatus, int, str]]:
    with db.unit_of_work() as uow:
        rows = uow.session.scalars(select(QuarterlyReturn).order_by(QuarterlyReturn.version))
        return [
            (r.version, r.status, r.snapshot["totals"].get("cases_total", 0), r.reason)
            for r in rows
        ]


def test_a_quarter_is_validated_submitted_and_corrected(app, world) -> None:
    hold(world, date(2026, 4, 9), [Case(), Case()])
    coordinator = signed_in(app.test_client(), world["coordinator"])
    page = text(coordinator.get(PAGE))
    assert "Draft" in page and "Not yet validated" in page
    assert submit(coordinator, PAGE + "/submit", form_url=PAGE).status_code == 303
    assert _versions() == []  # nothing to submit before validating
    assert submit(coordinator, PAGE + "/validate", form_url=PAGE).status_code == 303
    page = text(coordinator.get(PAGE))
    assert "Validated" in page and "Coordinator" in page
    assert "A month of the quarter has no meeting held." in page
    assert "The previous quarter’s return has not been submitted" in page
    # A meeting closed after validation changes the figures: submitting is refused.
    hold(world, date(2026, 5, 14), [Case()])
    refused = submit(coordinator, PAGE + "/submit", form_url=PAGE, follow=True)
    assert "The figures have changed since the return was validated" in text(refused)
    assert _versions() == [(1, ReturnStatus.VALIDATED, 2, "")]
    submit(coordinator, PAGE + "/validate", form_url=PAGE)
    assert submit(coordinator, PAGE + "/submit", form_url=PAGE).status_code == 303
    assert _versions() == [(1, ReturnStatus.SUBMITTED, 3, "")]
    page = text(coordinator.get(PAGE))
    assert "Submitted" in page and "its figures are kept as sent" in page
    # A late meeting after sending: the sent version stays; a correction is a new version.
    hold(world, date(2026, 6, 11), [Case()])
    assert "have changed since version 1" in text(coordinator.get(PAGE))
    submit(coordinator, PAGE + "/validate", form_url=PAGE)
    short = submit(coordinator, PAGE + "/submit", {"reason": "late"}, form_url=PAGE)
    assert short.status_code == 422 and "There is a problem" in text(short)
    reason = "A meeting closed late was missing"
    assert (
        submit(coordinator, PAGE + "/submit", {"reason": reason}, form_url=PAGE).status_code == 303
    )
    assert _versions() == [
        (1, ReturnStatus.SUBMITTED, 3, ""),
        (2, ReturnStatus.CORRECTED, 4, reason),
    ]
    # The next quarter no longer warns that its previous one is missing.
    assert "previous quarter’s return has not been submitted" not in text(
        coordinator.get("/returns/2026-Q3")
    )


def test_a_quarter_without_meetings_warns_and_the_chair_cannot_submit(app, world) -> None:
    chair = signed_in(app.test_client(), world["chair"])
    page = text(chair.get(PAGE))
    assert "No meeting was held and closed in this quarter." in page
    assert "Validate the return" not in page
    coordinator = signed_in(app.test_client(), world["coordinator"])
    token_page = PAGE
    assert submit(coordinator, PAGE + "/validate", form_url=token_page).status_code == 303
    assert chair.post(PAGE + "/submit").status_code in (400, 403)
    assert _versions() == [(1, ReturnStatus.VALIDATED, 0, "")]
