"""Administration of agencies and members: forms, errors, conflicts and the access matrix."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from agencies import services
from agencies.models import Agency, Member
from audit.models import AuditEntry
from hub.core import db
from tests.support.web import csrf_token, signed_in, submit, text

AGENCY_FORM = {
    "name": "Testshire Probation",
    "type": "probation",
    "sector": "statutory",
    "isp_signed_on-day": "1",
    "isp_signed_on-month": "4",
    "isp_signed_on-year": "2026",
    "isp_signed_by": "Head of Service",
    "isp_review_due_on-day": "31",
    "isp_review_due_on-month": "3",
    "isp_review_due_on-year": "2027",
    "email_domains": "probation.test",
}


def _signed_in(client, person):
    return signed_in(client, person)


def _count(model, *where) -> int:
    with db.unit_of_work() as uow:
        return int(
            uow.session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
        )


def test_admin_adds_an_agency_and_it_is_recorded(client, world) -> None:
    _signed_in(client, world["admin"])
    response = submit(client, "/admin/agencies/new", AGENCY_FORM)
    assert response.status_code == 302
    listing = text(client.get("/admin/agencies"))
    assert "Testshire Probation" in listing and "Probation" in listing
    assert _count(AuditEntry, AuditEntry.action == "agency:created") == 6  # 5 in world + 1


def test_agency_form_errors_are_summarised_and_nothing_is_saved(client, world) -> None:
    _signed_in(client, world["admin"])
    bad = dict(AGENCY_FORM, name="", sector="", **{"isp_signed_on-month": "13"})
    response = submit(client, "/admin/agencies/new", bad)
    page = text(response)
    assert response.status_code == 422
    assert "There is a problem" in page
    assert "Enter the agency&#39;s name" in page or "Enter the agency's name" in page
    assert "must be a real date" in page
    assert "Select whether the agency is statutory or voluntary sector" in page
    assert _count(Agency) == 5


def test_duplicate_agency_name_is_refused(client, world) -> None:
    _signed_in(client, world["admin"])
    response = submit(client, "/admin/agencies/new", dict(AGENCY_FORM, name="testshire police"))
    assert response.status_code == 422
    assert "already exists" in text(response)


def test_review_date_before_signing_is_refused(client, world) -> None:
    _signed_in(client, world["admin"])
    response = submit(
        client, "/admin/agencies/new", dict(AGENCY_FORM, **{"isp_review_due_on-year": "2025"})
    )
    assert response.status_code == 422
    assert "on or after the date it was signed" in text(response)


def test_admin_adds_and_edits_a_member(client, world) -> None:
    _signed_in(client, world["admin"])
    created = submit(
        client,
        "/admin/members/new",
        {
            "name": "Pat Probe",
            "email": "Pat.Probe@Police.test",
            "job_title": "Analyst",
            "agency_id": str(world.agencies["police"]),
            "roles": ["practitioner", "marac_rep"],
        },
    )
    assert created.status_code == 302
    with db.unit_of_work():
        member = services.find_member_by_email("pat.probe@police.test")
        assert member is not None
        assert {r.value for r in member.roles} == {"practitioner", "marac_rep"}
        url, version = f"/admin/members/{member.id}", member.version
    edited = submit(
        client,
        url,
        {
            "name": "Pat Probe",
            "email": "pat.probe@police.test",
            "agency_id": str(world.agencies["police"]),
            "roles": ["practitioner"],
            "version": str(version),
        },
    )
    assert edited.status_code == 302
    with db.unit_of_work():
        assert {r.value for r in services.find_member_by_email("pat.probe@police.test").roles} == {
            "practitioner"
        }
    assert _count(AuditEntry, AuditEntry.action == "member:roles_changed") == 1


def test_member_form_rejects_bad_input_without_saving(client, world) -> None:
    _signed_in(client, world["admin"])
    response = submit(
        client,
        "/admin/members/new",
        {"name": "", "email": "not-an-email", "agency_id": "0", "roles": ["emperor"]},
    )
    page = text(response)
    assert response.status_code == 422
    for message in (
        "Enter the member&#39;s full name",
        "Select the member&#39;s agency",
        "Select only options from the list",
    ):
        assert message in page or message.replace("&#39;", "'") in page
    assert _count(Member) == len(world.people)


def test_duplicate_member_email_is_refused(client, world) -> None:
    _signed_in(client, world["admin"])
    response = submit(
        client,
        "/admin/members/new",
        {
            "name": "Copy",
            "email": world["nurse"].email,
            "agency_id": str(world.agencies["health"]),
            "roles": ["practitioner"],
        },
    )
    assert response.status_code == 422
    assert "already uses this email" in text(response)


def test_concurrent_edit_is_refused_not_silently_overwritten(app, world) -> None:
    first, second = app.test_client(), app.test_client()
    _signed_in(first, world["admin"])
    _signed_in(second, world["admin"])
    url = f"/admin/members/{world['nurse'].member_id}"
    with db.unit_of_work():
        version = services.get_member(world["nurse"].member_id).version
    base = {
        "email": world["nurse"].email,
        "agency_id": str(world.agencies["health"]),
        "roles": ["practitioner"],
        "version": str(version),
    }
    assert submit(first, url, dict(base, name="Nurse One")).status_code == 302
    late = submit(second, url, dict(base, name="Nurse Two"))
    assert late.status_code == 409
    assert "Someone else changed this member" in text(late)
    with db.unit_of_work():
        assert services.get_member(world["nurse"].member_id).name == "Nurse One"


def test_admin_cannot_disable_themselves(client, world) -> None:
    _signed_in(client, world["admin"])
    url = f"/admin/members/{world['admin'].member_id}"
    response = submit(client, url + "/disabled", {"disabled": "yes"}, form_url=url, follow=True)
    assert "You cannot disable your own account" in text(response)
    assert client.get("/").status_code == 200


ADMIN_ROUTES = [
    ("GET", "/admin/agencies"),
    ("GET", "/admin/agencies/new"),
    ("POST", "/admin/agencies/new"),
    ("GET", "/admin/agencies/{agency}"),
    ("POST", "/admin/agencies/{agency}/disabled"),
    ("GET", "/admin/members"),
    ("GET", "/admin/members/new"),
    ("POST", "/admin/members/new"),
    ("GET", "/admin/members/{member}"),
    ("POST", "/admin/members/{member}/disabled"),
    ("POST", "/admin/members/{member}/invitation"),
]
#: persona -> routes they may use (by index above); everyone else gets 403 (or sign-in).
ALLOWED = {
    "admin": set(range(len(ADMIN_ROUTES))),
    "coordinator": {0},  # agencies:read only
}


@pytest.mark.parametrize(
    "persona",
    [
        "anonymous",
        "admin",
        "coordinator",
        "chair",
        "auditor",
        "police_officer",
        "police_rep",
        "idva",
    ],
)
def test_access_matrix_for_administration(app, world, persona) -> None:
    client = app.test_client()
    if persona != "anonymous":
        _signed_in(client, world[persona])
    token = (
        csrf_token(client, "/sign-in") if persona == "anonymous" else csrf_token(client, "/account")
    )
    ids = {"agency": world.agencies["housing"], "member": world["housing_officer"].member_id}
    for index, (method, pattern) in enumerate(ADMIN_ROUTES):
        url = pattern.format(**ids)
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token, "disabled": "no"})
        if persona == "anonymous":
            assert response.status_code == 302, (persona, method, url)
            assert "/sign-in" in response.headers["Location"]
        elif index in ALLOWED.get(persona, set()):
            assert response.status_code in {200, 302, 422}, (persona, method, url)
        else:
            assert response.status_code == 403, (persona, method, url, response.status_code)
