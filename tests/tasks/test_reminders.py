"""A frozen clock walks tasks through reminder, overdue and escalation; e-mails reach a real
SMTP server on loopback and carry no personal data."""

from __future__ import annotations

import re
import socket
import ssl
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import select

from agencies.models import Member
from hub.core import db
from hub.core.clock import LONDON, today_london
from hub.core.workdays import add_working_days
from tests.support.world import AGENCIES
from tests.tasks.conftest import on_team, police_case, reference_of, share, wall_off
from todo import jobs, notify, services
from todo.models import (
    NotificationMode,
    Task,
    TaskNotification,
    TaskSource,
)


class Inbox:
    """An aiosmtpd handler that keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            {
                "to": list(envelope.rcpt_tos),
                "message": message_from_bytes(envelope.content, policy=policy.default),
                "raw": envelope.content.decode("utf-8", "replace"),
            }
        )
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m["message"] for m in self.messages if address in m["to"]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def inbox(app: Any) -> Iterator[Inbox]:
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    app.extensions["hub.mailer"] = notify.Mailer(
        host="127.0.0.1",
        port=controller.port,
        tls="none",
        base_url="https://hub.example",
        sender="MARAC Hub <no-reply@hub.example>",
    )
    try:
        yield handler
    finally:
        controller.stop()


def at(day: date, hour: int = 9) -> Any:
    return time_machine.travel(datetime.combine(day, time(hour), tzinfo=LONDON), tick=False)


def _make_task(
    app,
    world,
    actors,
    *,
    due: date,
    owner: str | None = "police_officer",
    referral_id: int | None = None,
    title="Fit the alarm at the victim's home",
    agency: str = "police",
) -> int:
    with app.app_context(), db.unit_of_work():
        task = services.create_task(
            actors["coordinator"],
            agency_id=world.agencies[agency],
            owner_member_id=world[owner].member_id if owner else None,
            referral_id=referral_id,
            source=TaskSource.MEETING_ACTION,
            title=title,
            due_on=due,
        )
        return task.id


def _run(app, job) -> int:
    with app.app_context():
        return int(job())


def _task(task_id: int) -> Task:
    with db.unit_of_work():
        return db.session().get(Task, task_id)


def _kinds(task_id: int) -> list[str]:
    with db.unit_of_work():
        return [e.kind for e in services.task_history(task_id)]


def _assert_no_personal_data(inbox: Inbox, world, forbidden: list[str]) -> None:
    """No member name or e-mail (beyond the envelope and To), case reference, agency name,
    or task wording in any message."""
    names = [key.replace("_", " ").title() for key in world.people]
    emails = [person.email for person in world.people.values()]
    agencies = [name for name, *_rest in AGENCIES.values()]
    assert inbox.messages, "no e-mail arrived"
    for item in inbox.messages:
        message = item["message"]
        visible = "\n".join(
            [f"{k}: {v}" for k, v in message.items() if k.lower() != "to"] + [message.get_content()]
        )
        for needle in names + emails + agencies + forbidden:
            assert needle.lower() not in visible.lower(), (needle, visible)
        assert re.fullmatch(r"[\w.+-]+@[\w.-]+", message["To"])  # an address, no display name
        assert "https://hub.example/tasks" in visible


def test_a_task_is_reminded_once_then_escalated_once_when_overdue(
    app, world, actors, inbox, referral
) -> None:
    referral_id = referral
    reference = reference_of(referral_id)
    monday, tuesday, wednesday = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
    thursday, friday = date(2026, 3, 5), date(2026, 3, 6)
    officer, rep = world["police_officer"], world["police_rep"]
    with at(monday):
        task_id = _make_task(app, world, actors, due=wednesday, referral_id=referral_id)
        assert _run(app, jobs.send_reminders) == 0  # due in 2 working days: not yet
        assert _run(app, jobs.escalate_overdue) == 0
    # The coordinator gave it to the officer: that alone is e-mailed.
    assert [m["Subject"] for m in inbox.to(officer.email)] == [
        "MARAC Hub: a task is waiting for you"
    ]
    with at(tuesday):
        assert _run(app, jobs.send_reminders) == 1
        assert _run(app, jobs.send_reminders) == 0  # once per task
    assert _task(task_id).reminded_at is not None
    reminders = [m for m in inbox.to(officer.email) if "due soon" in m["Subject"]]
    assert len(reminders) == 1
    with at(wednesday, 17):
        assert _run(app, jobs.escalate_overdue) == 0  # due today is not overdue
    with at(thursday):
        assert _run(app, jobs.escalate_overdue) == 1
    with at(friday):
        assert _run(app, jobs.escalate_overdue) == 0  # once per task
        assert _run(app, jobs.send_reminders) == 0
    assert _task(task_id).escalated_at is not None
    assert _kinds(task_id) == ["created", "reminded", "escalated"]
    escalations = inbox.to(rep.email)
    assert len(escalations) == 1 and "overdue" in escalations[0]["Subject"]
    assert "https://hub.example/tasks/overdue" in escalations[0].get_content()
    with db.unit_of_work():
        kinds = [
            (n.member_id, n.kind)
            for n in db.session()
            .execute(select(TaskNotification).order_by(TaskNotification.id))
            .scalars()
        ]
    assert kinds == [
        (officer.member_id, "assigned"),
        (officer.member_id, "reminder"),
        (rep.member_id, "escalation"),
    ]
    _assert_no_personal_data(inbox, world, [reference, "Fit the alarm", "alarm"])


def test_bank_holidays_move_the_reminder_and_the_escalation(app, world, actors, inbox) -> None:
    # Due Tuesday 7 April 2026, after Easter (Good Friday 3rd, Easter Monday 6th): the working
    # day before is Thursday 2nd, not Monday 6th.
    with at(date(2026, 3, 31)):
        task_id = _make_task(app, world, actors, due=date(2026, 4, 7))
    with at(date(2026, 4, 1)):  # Wednesday: two working days before
        assert _run(app, jobs.send_reminders) == 0
    with at(date(2026, 4, 2)):  # Thursday: the working day before
        assert _run(app, jobs.send_reminders) == 1
    with at(date(2026, 4, 7), hour=18):  # due today: not overdue
        assert _run(app, jobs.escalate_overdue) == 0
    with at(date(2026, 4, 8)):  # Wednesday: one working day overdue
        assert _run(app, jobs.escalate_overdue) == 1
    assert _kinds(task_id)[-2:] == ["reminded", "escalated"]

    # Due Friday 22 May 2026; the late May bank holiday is Monday 25th: overdue by one working
    # day only on Tuesday 26th.
    with at(date(2026, 5, 20)):
        late = _make_task(app, world, actors, due=date(2026, 5, 22))
    with at(date(2026, 5, 25)):
        assert _run(app, jobs.escalate_overdue) == 0
    with at(date(2026, 5, 26)):
        assert _run(app, jobs.escalate_overdue) == 1
    assert _task(late).escalated_at is not None


def test_a_queued_task_reminds_the_agencys_representatives(app, world, actors, inbox) -> None:
    with at(date(2026, 3, 2)):
        _make_task(app, world, actors, due=date(2026, 3, 3), owner=None)
        assert _run(app, jobs.send_reminders) == 1
    assert len(inbox.to(world["police_rep"].email)) == 1
    assert inbox.to(world["police_officer"].email) == []


def test_one_burst_of_work_is_one_e_mail_per_person(app, world, actors, inbox) -> None:
    """Twenty tasks given in one go, then one reminder run over all of them: each person gets
    one message per burst, which says how many notifications wait."""
    officer, rep = world["police_officer"], world["police_rep"]
    with at(date(2026, 3, 2)), app.app_context(), db.unit_of_work():
        for n in range(20):
            services.create_task(
                actors["coordinator"],
                agency_id=world.agencies["police"],
                owner_member_id=officer.member_id if n < 15 else None,
                referral_id=None,
                source=TaskSource.MEETING_ACTION,
                title=f"Check the records, part {n + 1}",
                due_on=date(2026, 3, 3),
            )
    given = inbox.to(officer.email)
    assert len(given) == 1 and "15 new notifications" in given[0].get_content()
    with at(date(2026, 3, 2)):
        assert _run(app, jobs.send_reminders) == 20
    assert len(inbox.to(officer.email)) == 2  # the tasks given, then their reminders
    assert "15 new notifications" in inbox.to(officer.email)[1].get_content()
    reminded = inbox.to(rep.email)  # the queue's five, to its representative
    assert len(reminded) == 1 and "5 new notifications" in reminded[0].get_content()
    with db.unit_of_work():
        owed = db.session().execute(select(TaskNotification)).scalars().all()
    assert len([n for n in owed if n.member_id == officer.member_id]) == 30  # each one listed
    _assert_no_personal_data(inbox, world, ["Check the records"])


def test_moving_the_due_date_earns_a_new_reminder(app, world, actors, inbox) -> None:
    with at(date(2026, 3, 2)):
        task_id = _make_task(app, world, actors, due=date(2026, 3, 3))
        assert _run(app, jobs.send_reminders) == 1
        with app.app_context(), db.unit_of_work():
            task = db.session().get(Task, task_id)
            services.update_task(
                actors["police_officer"],
                task,
                version=task.version,
                change=services.TaskChange(due_on=date(2026, 3, 10)),
            )
        assert _run(app, jobs.send_reminders) == 0
    with at(date(2026, 3, 9)):
        assert _run(app, jobs.send_reminders) == 1


def test_digest_members_get_one_e_mail_a_day(app, world, actors, inbox) -> None:
    rep = world["police_rep"]
    with db.unit_of_work():
        notify.set_preference(rep.member_id, NotificationMode.DIGEST)
    with at(date(2026, 3, 2)):
        for _ in range(3):
            _make_task(app, world, actors, due=date(2026, 3, 3), owner="police_rep")
    assert inbox.to(rep.email) == []  # nothing sent at once
    with at(date(2026, 3, 3), hour=6):
        assert _run(app, jobs.send_digests) == 0  # before HUB_DIGEST_HOUR
    with at(date(2026, 3, 3), hour=7):
        assert _run(app, jobs.send_digests) == 1
        assert _run(app, jobs.send_digests) == 0  # one a day
    digests = inbox.to(rep.email)
    assert len(digests) == 1
    assert "You have 3 new notifications about tasks" in digests[0].get_content()
    with at(date(2026, 3, 3), hour=9):
        assert _run(app, jobs.send_reminders) == 3  # owed, but kept for tomorrow's digest
        assert _run(app, jobs.send_digests) == 0
    with at(date(2026, 3, 4), hour=8):
        assert _run(app, jobs.send_digests) == 1
    assert "You have 3 new" in inbox.to(rep.email)[-1].get_content()
    _assert_no_personal_data(inbox, world, [])


def test_nothing_is_sent_for_a_transaction_that_rolls_back(app, world, actors, inbox) -> None:
    with at(date(2026, 3, 2)):
        with pytest.raises(RuntimeError), app.app_context(), db.unit_of_work():
            services.create_task(
                actors["coordinator"],
                agency_id=world.agencies["police"],
                owner_member_id=world["police_officer"].member_id,
                referral_id=None,
                source=TaskSource.MEETING_ACTION,
                title="x",
                due_on=date(2026, 3, 3),
            )
            raise RuntimeError("something later in the request failed")
        _make_task(app, world, actors, due=date(2026, 3, 3))  # a committed one is sent
    assert len(inbox.messages) == 1


def _subjects(inbox: Inbox, person) -> list[str]:
    return [m["Subject"] for m in inbox.to(person.email)]


def test_nobody_is_reminded_of_a_task_whose_case_they_may_no_longer_know(
    app, world, actors, inbox
) -> None:
    referral_id = police_case(world)
    share(world, referral_id, "health")
    on_team(world, referral_id, "nurse")
    nurse, rep = world["nurse"], world["health_rep"]
    with at(date(2026, 3, 2)):
        task_id = _make_task(
            app,
            world,
            actors,
            due=date(2026, 3, 3),
            owner="nurse",
            agency="health",
            referral_id=referral_id,
        )
    assert _subjects(inbox, nurse) == ["MARAC Hub: a task is waiting for you"]
    wall_off(world, referral_id, "nurse")  # health serves the perpetrator: the nurse is his
    with at(date(2026, 3, 2)):
        assert _run(app, jobs.send_reminders) == 1
    with at(date(2026, 3, 4)):
        assert _run(app, jobs.escalate_overdue) == 1
    assert _subjects(inbox, nurse) == ["MARAC Hub: a task is waiting for you"]  # nothing more
    assert _subjects(inbox, rep) == ["MARAC Hub: an overdue task needs your attention"]
    with db.unit_of_work():
        told = [
            (n.member_id, n.kind)
            for n in db.session().execute(select(TaskNotification)).scalars()
            if n.task_id == task_id
        ]
    assert (nurse.member_id, "reminder") not in told


def test_nobody_is_e_mailed_about_a_case_once_their_agencys_protocol_has_lapsed(
    app, world, actors, inbox, referral
) -> None:
    from agencies.services import get_agency

    with at(date(2026, 3, 2)):
        _make_task(app, world, actors, due=date(2026, 3, 3), referral_id=referral)
        _make_task(app, world, actors, due=date(2026, 3, 3), title="About no case")
    inbox.messages.clear()
    with db.unit_of_work():
        get_agency(world.agencies["police"]).isp_review_due_on = date(2026, 3, 1)
    with at(date(2026, 3, 2)):
        assert _run(app, jobs.send_reminders) == 2
    with at(date(2026, 3, 4)):
        assert _run(app, jobs.escalate_overdue) == 2
    # Only the task about no case is the agency's business alone: one reminder, one escalation.
    assert _subjects(inbox, world["police_officer"]) == ["MARAC Hub: a task is due soon"]
    assert _subjects(inbox, world["police_rep"]) == [
        "MARAC Hub: an overdue task needs your attention"
    ]


def test_a_representative_on_the_must_not_receive_list_is_never_told_of_its_tasks(
    app, world, actors, inbox
) -> None:
    blocked = police_case(world, must_not_receive=("police_rep",))
    with at(date(2026, 3, 2)):
        _make_task(app, world, actors, due=date(2026, 3, 3), owner=None, referral_id=blocked)
        _make_task(app, world, actors, due=date(2026, 3, 3), owner=None, title="About no case")
        assert _run(app, jobs.send_reminders) == 2
    with at(date(2026, 3, 4)):
        assert _run(app, jobs.escalate_overdue) == 2
    # One reminder and one escalation: the queued task about no case, never the other.
    assert _subjects(inbox, world["police_rep"]) == [
        "MARAC Hub: a task is due soon",
        "MARAC Hub: an overdue task needs your attention",
    ]


def test_the_digest_counts_only_what_the_member_may_still_know(
    app, world, actors, inbox, referral
) -> None:
    from agencies import services as agencies
    from cases import services as referrals
    from hub.core.access import Actor, Role

    rep = world["police_rep"]
    with db.unit_of_work():
        notify.set_preference(rep.member_id, NotificationMode.DIGEST)
    with at(date(2026, 3, 2)):
        _make_task(app, world, actors, due=date(2026, 3, 9), owner="police_rep")
        _make_task(app, world, actors, due=date(2026, 3, 9), owner="police_rep")
        _make_task(
            app, world, actors, due=date(2026, 3, 9), owner="police_rep", referral_id=referral
        )
    # A second representative walls the first off: he turns out to know the perpetrator.
    with db.unit_of_work():
        other = agencies.actor_for(
            agencies.add_member(
                Actor.system("test"),
                agencies.MemberData(
                    name="Second Rep",
                    email="second.rep@police.test",
                    agency_id=world.agencies["police"],
                    roles=frozenset({Role.MARAC_REP}),
                ),
            )
        )
    with db.unit_of_work():
        referrals.add_conflict_wall(
            other,
            referrals.get_referral(referral),
            perpetrator_worker_id=rep.member_id,
            victim_worker_id=None,
        )
    with at(date(2026, 3, 3), hour=7):
        assert _run(app, jobs.send_digests) == 1
    (digest,) = inbox.to(rep.email)
    assert "You have 2 new notifications about tasks" in digest.get_content()


def test_a_mail_server_that_is_down_does_not_undo_the_work(app, world, actors) -> None:
    app.extensions["hub.mailer"] = notify.Mailer(host="127.0.0.1", port=_free_port(), timeout=2)
    with at(date(2026, 3, 2)):
        task_id = _make_task(app, world, actors, due=date(2026, 3, 3))
        assert _run(app, jobs.send_reminders) == 1
    assert _task(task_id).reminded_at is not None


def test_disabled_members_are_not_e_mailed(app, world, actors, inbox) -> None:
    from agencies.services import get_member, set_member_disabled
    from hub.core.access import Actor

    with db.unit_of_work():
        set_member_disabled(Actor.system("test"), get_member(world["police_rep"].member_id), True)
    with at(date(2026, 3, 2)):
        _make_task(app, world, actors, due=date(2026, 3, 3), owner=None)
        assert _run(app, jobs.send_reminders) == 1
    assert inbox.messages == []


def test_starttls_is_used_when_configured(tmp_path, world) -> None:
    """STARTTLS against a real server with a throwaway certificate."""
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(LONDON)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    handler = Inbox()
    controller = Controller(
        handler,
        hostname="localhost",
        port=_free_port(),
        tls_context=server_context,
        require_starttls=True,
    )
    controller.start()
    try:
        client_context = ssl.create_default_context(cafile=str(cert_file))
        mailer = notify.Mailer(
            host="localhost", port=controller.port, tls="starttls", ssl_context=client_context
        )
        mailer.send("someone@agency.test", notify.NOTICES["reminder"])
        plain = notify.Mailer(host="localhost", port=controller.port, tls="none")
        with pytest.raises(Exception, match=r"STARTTLS|530"):
            plain.send("someone@agency.test", notify.NOTICES["reminder"])
    finally:
        controller.stop()
    assert len(handler.messages) == 1


def _demo_journey_steps(app) -> list[tuple[str, Any]]:
    """The coordinator's part of the demo journey (tests/browser/test_role_journeys.py), each
    step one unit of work as the page that does it: accept the waiting referral, share it,
    build and circulate the coming agenda, then the morning's reminder and escalation runs."""
    from agencies import services as agencies
    from cases import services as cases
    from consent.categories import Purpose
    from meetings import services as meetings
    from meetings.models import Meeting, MeetingStatus

    def coordinator() -> Any:
        member = agencies.find_member_by_email("coordinator@csp.northbridge.example")
        return agencies.actor_for(member)

    def waiting() -> Any:
        return cases.inbox(coordinator(), ("submitted",))[0]

    def coming() -> Any:
        found = db.session().execute(
            select(Meeting).where(Meeting.status == MeetingStatus.PLANNED).order_by(Meeting.held_on)
        )
        return found.scalars().first()

    def share() -> None:
        idva = agencies.find_agency_by_name("Northbridge IDVA Service")
        cases.share_case(coordinator(), waiting_case[0], idva.id, Purpose.MARAC)

    waiting_case: list[Any] = []

    def accept() -> None:
        waiting_case.append(waiting())
        cases.accept_referral(coordinator(), waiting_case[0])

    return [
        ("accept", accept),
        ("share", share),
        ("build", lambda: meetings.build_agenda(coordinator(), coming())),
        ("circulate", lambda: meetings.circulate_agenda(coordinator(), coming())),
    ]


def _send_digests_after_the_digest_hour() -> None:
    # Digests go out from 07:00 London: a run before then (a suite at night) waits for it.
    opens = datetime.combine(today_london(), time(8), tzinfo=LONDON)
    if datetime.now(LONDON) >= opens:
        jobs.send_digests()
        return
    with time_machine.travel(opens, tick=True):
        jobs.send_digests()


@pytest.mark.parametrize("mode", [NotificationMode.EACH, NotificationMode.DIGEST])
def test_the_demo_journey_sends_each_person_at_most_one_message_per_burst(app, inbox, mode) -> None:
    """On the demo `make run` gives, each step of the coordinator's journey and each morning
    job is one burst: nobody gets two messages from it, however many tasks it makes."""
    from hub import demo
    from meetings.demo import seed_meetings
    from todo.notify import set_preference

    settings = app.extensions["hub.settings"]
    with app.app_context():
        for seed in (demo.seed, seed_meetings, demo.seed_cases):
            with db.unit_of_work():
                seed(settings)
        with db.unit_of_work():
            members = db.session().execute(select(Member.id, Member.email)).all()
            for member_id, _email in members:
                set_preference(member_id, mode)
        steps = _demo_journey_steps(app)
        tomorrow = add_working_days(today_london(), 1)
        bursts: list[tuple[str, Any]] = [
            *steps,
            ("reminders", lambda: jobs.send_reminders()),
            ("escalations", lambda: jobs.escalate_overdue(today=tomorrow + timedelta(days=7))),
        ]
        if mode == NotificationMode.DIGEST:
            bursts.append(("digest", _send_digests_after_the_digest_hour))
        sent_by_step = {}
        for name, step in bursts:
            before = len(inbox.messages)
            if name in {"reminders", "escalations", "digest"}:
                step()
            else:
                with db.unit_of_work():
                    step()
            new = inbox.messages[before:]
            per_person = Counter(address for m in new for address in m["to"])
            assert all(n == 1 for n in per_person.values()), (name, per_person)
            sent_by_step[name] = len(new)
    total = sum(sent_by_step.values())
    if mode == NotificationMode.EACH:
        assert sent_by_step["accept"] >= 1 and sent_by_step["reminders"] >= 1, sent_by_step
    else:  # on the daily digest nothing is sent until the digest, then one each
        assert total == sent_by_step["digest"] >= 1, sent_by_step
