"""Minutes: approval refused while sections are empty, locking, amendments as revisions, and
the restricted PDF: marking, watermark, page numbers, no whereabouts by default, the ledger's
hash of the bytes served, a fetcher that refuses file://, agency extracts."""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
from datetime import timedelta

import pypdf
import pytest
from sqlalchemy import select

from audit.models import AuditEntry
from hub.core import db
from hub.core.clock import today_london
from hub.core.errors import Conflict, ValidationFailed
from meetings import conduct, minutes, pdf, services
from meetings.models import Meeting, MinutesRevision
from tests.meetings.conftest import FULL_DISCUSSION, run_to_close
from tests.support.web import ledger_results, signed_in, submit
from tests.support.world import actor_of

BASE = "http://127.0.0.1:5000"
ADDRESS = "Flat 2, 10 Secret Street"  # the victim's address in tests/support/cases.py
CRAFTED = (
    '<img src="file:///etc/passwd"><style>@import url(file:///etc/passwd); '
    "body { display: none }</style></p><h1>INJECTED</h1>"
)


def _pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def _meeting(uow, conference) -> Meeting:
    return uow.session.get(Meeting, conference.meeting_id)


def _approved(world, conference, **kwargs) -> None:
    run_to_close(world, conference, **kwargs)
    with db.unit_of_work() as uow:
        minutes.approve_minutes(actor_of(world["chair"]), _meeting(uow, conference))


def _render(world, conference, persona: str, scope: str = "full", **kwargs) -> minutes.RenderedPdf:
    with db.unit_of_work() as uow:
        return minutes.render_minutes(
            actor_of(world[persona]), _meeting(uow, conference), scope, base_url=BASE, **kwargs
        )


def _signed_in(client, person):
    return signed_in(client, person)


def test_approval_is_refused_while_a_required_section_is_empty(world, conference) -> None:
    discussion = dict(FULL_DISCUSSION, risk_children="")
    run_to_close(world, conference, discussion=discussion, actions=False)
    with db.unit_of_work() as uow, pytest.raises(ValidationFailed) as refused:
        minutes.approve_minutes(actor_of(world["chair"]), _meeting(uow, conference))
    messages = list(refused.value.errors.values())
    assert any("enter “Risks to children”" in m for m in messages)
    assert any("agree at least one action" in m for m in messages)
    with db.unit_of_work() as uow:
        assert not services.minutes_of(_meeting(uow, conference)).is_locked


def test_approved_minutes_are_locked_and_amendments_are_new_revisions(world, conference) -> None:
    _approved(world, conference)
    chair = actor_of(world["chair"])
    key = f"item-{conference.item_ids[0]}.risk_victim"
    with db.unit_of_work() as uow, pytest.raises(ValidationFailed, match="Say why"):
        minutes.amend_minutes(chair, _meeting(uow, conference), {key: "Corrected"}, "")
    with db.unit_of_work() as uow, pytest.raises(ValidationFailed, match="cannot be emptied"):
        minutes.amend_minutes(
            chair, _meeting(uow, conference), {key: " "}, "Removing the risk summary"
        )
    with db.unit_of_work() as uow:
        minutes.amend_minutes(
            chair,
            _meeting(uow, conference),
            {key: "Serious harm likely within days, not weeks."},
            "The chair misheard the IDVA's timescale",
        )
    with db.unit_of_work() as uow, pytest.raises(Conflict, match="already approved"):
        minutes.approve_minutes(chair, _meeting(uow, conference))
    with db.unit_of_work() as uow:
        first, second = (
            uow.session.execute(select(MinutesRevision).order_by(MinutesRevision.number))
            .scalars()
            .all()
        )
        assert (
            first.content["items"][0]["discussion"]["risk_victim"] == FULL_DISCUSSION["risk_victim"]
        )  # the approved text is kept as it was
        assert second.content["items"][0]["discussion"]["risk_victim"].startswith("Serious")
        assert second.changed == [key] and second.created_by_id == world["chair"].member_id
        assert second.reason == "The chair misheard the IDVA's timescale"
    rendered = _render(world, conference, "coordinator")
    text_all = " ".join(_pages(rendered.data))
    assert "within days, not weeks" in text_all and "misheard" in text_all
    assert "revision 2" in text_all


def test_the_pdf_is_marked_watermarked_numbered_and_hides_whereabouts(
    world, conference, output_dir
) -> None:
    _approved(world, conference)
    rendered = _render(world, conference, "coordinator")
    target = output_dir / "minutes.pdf"
    target.write_bytes(rendered.data)  # kept for a look, whatever the assertions find
    pages = _pages(rendered.data)
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert page.count("RESTRICTED when completed") >= 2  # at the top and the bottom
        assert "DRAFT" not in page  # approved minutes
        assert "Issued to Coordinator, Testshire Community Safety" in page
        assert f"Page {number} of {len(pages)}" in page
    everything = " ".join(pages)
    assert "Do not copy, forward or disclose" in everything
    assert "Jane EXAMPLE" in everything and "Helen Rep" in everything
    assert "Flag the records and offer a safe appointment" in everything
    assert ADDRESS not in everything and "07700 900123" not in everything
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "60",
            "-f",
            "1",
            "-l",
            "1",
            str(target),
            str(output_dir / "minutes-page"),
        ],
        check=True,
    )
    assert (output_dir / "minutes-page-1.png").stat().st_size > 10_000


def test_the_pdf_is_tagged_for_screen_readers_and_a_draft_says_so_on_every_page(
    world, conference
) -> None:
    run_to_close(world, conference)
    rendered = _render(world, conference, "coordinator")
    reader = pypdf.PdfReader(io.BytesIO(rendered.data))
    root = reader.trailer["/Root"]
    assert bool(root["/MarkInfo"]["/Marked"]) and "/StructTreeRoot" in root  # tagged
    assert str(root["/Lang"]).lower() == "en-gb"
    assert reader.metadata.title and "minutes" in reader.metadata.title
    xmp = root["/Metadata"].get_object().get_data()
    assert b"pdfuaid:part" in xmp  # it declares PDF/UA-1
    pages = [page.extract_text() for page in reader.pages]
    for page in pages:
        assert page.count("DRAFT · RESTRICTED when completed") >= 2


def test_whereabouts_appear_only_when_the_chair_includes_them_and_through_a_reveal(
    world, conference
) -> None:
    chair = actor_of(world["chair"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, conference)
        conduct.save_discussion(
            chair,
            meeting,
            services.get_item(meeting, conference.item_ids[0]),
            {
                "include_whereabouts": True,
                "whereabouts_reason": "Police and housing "
                "must know the refuge to respond to alarms",
            },
        )
    _approved(world, conference)
    everything = " ".join(_pages(_render(world, conference, "coordinator").data))
    assert ADDRESS in everything
    with db.unit_of_work() as uow:
        reveals = [
            json.loads(e.body)
            for e in uow.session.execute(
                select(AuditEntry).where(AuditEntry.action == "whereabouts:revealed")
            ).scalars()
        ]
    assert reveals[-1]["actor"]["member"] == world["coordinator"].member_id
    assert "whereabouts" in reveals[-1]["categories"]


def test_the_ledger_holds_the_hash_of_the_bytes_downloaded(app, world, conference) -> None:
    _approved(world, conference)
    coordinator = _signed_in(app.test_client(), world["coordinator"])
    assert (
        submit(
            coordinator,
            f"/meetings/{conference.meeting_id}/minutes/distribute",
            form_url=f"/meetings/{conference.meeting_id}/minutes",
        ).status_code
        == 303
    )
    nurse = _signed_in(app.test_client(), world["nurse"])
    response = nurse.get(f"/meetings/{conference.meeting_id}/extract.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    with db.unit_of_work() as uow:
        entry = (
            uow.session.execute(
                select(AuditEntry)
                .where(AuditEntry.action == "minutes:downloaded")
                .order_by(AuditEntry.id.desc())
            )
            .scalars()
            .first()
        )
        body = json.loads(entry.body)
    assert body["sha256"] == hashlib.sha256(response.data).hexdigest()
    assert body["actor"]["member"] == world["nurse"].member_id and body["scope"] == "extract"
    assert body["cases"] == [conference.referral_ids[0]]
    auditor = _signed_in(app.test_client(), world["auditor"])
    found = ledger_results(
        auditor.get(f"/ledger?action=minutes:downloaded&case={conference.referral_ids[0]}")
    )
    assert "minutes:downloaded" in found


def test_an_extract_holds_only_the_agency_s_cases_and_actions(world, conference) -> None:
    chair = actor_of(world["chair"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, conference)
        conduct.add_action(
            chair,
            meeting,
            services.get_item(meeting, conference.item_ids[0]),
            conduct.ActionData(
                text="Police to serve the order by Friday",
                owner_member_id=world["police_rep"].member_id,
                due_on=today_london() + timedelta(days=3),
            ),
        )
    _approved(world, conference)
    with db.unit_of_work() as uow, pytest.raises(Exception, match="no minutes"):
        minutes.render_minutes(
            actor_of(world["nurse"]), _meeting(uow, conference), "extract", base_url=BASE
        )  # not yet sent out
    with db.unit_of_work() as uow:
        minutes.distribute_minutes(actor_of(world["coordinator"]), _meeting(uow, conference))
    rendered = _render(world, conference, "nurse", "extract")
    everything = " ".join(_pages(rendered.data))
    assert "Extract for Testshire Hospital" in everything
    assert "Jane EXAMPLE" in everything and "Amira KHAN" not in everything
    assert "Flag the records" in everything and "serve the order" not in everything
    # The other case is one the nurse may not know exists: it is not even counted.
    assert "other case" not in everything
    full = " ".join(_pages(_render(world, conference, "coordinator").data))
    assert "serve the order" in full and "Amira KHAN" in full


def test_minutes_text_cannot_inject_html_or_css(world, conference) -> None:
    run_to_close(world, conference, discussion=dict(FULL_DISCUSSION, risk_victim=CRAFTED))
    rendered = _render(world, conference, "coordinator")
    everything = " ".join(_pages(rendered.data))
    assert '<img src="file:///etc/passwd">' in everything  # printed as text
    assert "INJECTED" in everything and "root:" not in everything
    assert rendered.refused_urls == []  # nothing was even asked for


def test_the_fetcher_refuses_file_urls_and_foreign_hosts(world, conference) -> None:
    run_to_close(world, conference)
    crafted = (
        '<img src="file:///etc/passwd">'
        '<link rel="stylesheet" href="file:///etc/passwd">'
        '<img src="http://evil.example/pixel.png">'
        f'<img src="{BASE}/static/../../../../etc/passwd">'
        f'<img src="{BASE}/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd">'
        f'<img src="{BASE}/static/govuk/images/govuk-crest.svg"></body>'
    )
    rendered = _render(
        world, conference, "coordinator", html_hook=lambda html: html.replace("</body>", crafted)
    )
    assert "file:///etc/passwd" in rendered.refused_urls
    assert "http://evil.example/pixel.png" in rendered.refused_urls
    assert len(rendered.refused_urls) >= 4
    assert "root:" not in " ".join(_pages(rendered.data))
    fetcher = pdf.StaticOnlyFetcher(BASE)
    with pytest.raises(pdf.RefusedURL):
        fetcher.fetch("file:///etc/passwd")
    with pytest.raises(pdf.RefusedURL):
        fetcher.fetch("https://127.0.0.1:5000/static/css/hub.css")  # another scheme
    with pytest.raises(pdf.RefusedURL):
        fetcher.fetch(f"{BASE}/assets/../static/css/hub.css?x=1")
    assert fetcher.fetch(f"{BASE}/static/css/hub.css").read().startswith(b"/*")


def test_every_download_is_its_own_disclosure_with_the_recipient(world, conference) -> None:
    _approved(world, conference)
    first = _render(world, conference, "coordinator")
    second = _render(world, conference, "chair")
    assert first.sha256 != second.sha256  # each copy carries its recipient
    assert "Issued to Chair, Testshire Police" in _pages(second.data)[0]
    with db.unit_of_work() as uow:
        rendered = [
            json.loads(e.body)
            for e in uow.session.execute(
                select(AuditEntry).where(AuditEntry.action == "minutes:rendered")
            ).scalars()
        ]
    chair_entries = [e for e in rendered if e["actor"].get("member") == world["chair"].member_id]
    assert sorted(e["case"] for e in chair_entries) == sorted(conference.referral_ids)
    assert all(set(e["categories"]) == {"identity", "minutes"} for e in chair_entries)


def test_a_recipient_the_gate_refuses_gets_no_case(world, conference) -> None:
    """A practitioner of an involved agency who is not on a case's team sees no case data."""
    chair = actor_of(world["chair"])
    with db.unit_of_work() as uow:
        meeting = _meeting(uow, conference)
        conduct.add_action(
            chair,
            meeting,
            services.get_item(meeting, conference.item_ids[0]),
            conduct.ActionData(
                text="Police to serve the order by Friday",
                owner_member_id=world["police_rep"].member_id,
                due_on=today_london() + timedelta(days=3),
            ),
        )
    _approved(world, conference)
    with db.unit_of_work() as uow:
        minutes.distribute_minutes(actor_of(world["coordinator"]), _meeting(uow, conference))
    rendered = _render(world, conference, "police_officer", "extract")
    everything = " ".join(_pages(rendered.data))
    assert "Jane EXAMPLE" not in everything and "No cases in this document" in everything
    assert "serve the order" not in everything
    assert "other case" not in everything  # cases they may not know are not even counted
    assert re.search(r"Page 1 of \d", everything)
