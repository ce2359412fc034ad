"""Destruction: remove a record class of many cases for good, in the caller's transaction.

Rows are deleted, not blanked. Every case table is full of free text, and a blanked shell
row would be one more thing every list, count and gate path had to learn to skip; a row
that is gone cannot be shown. Where a row that stays points at a destroyed one (a later
referral's "repeat of", a counter-allegation, another area's transfer), the pointer is
cleared. The approved minutes of a meeting are one document for all its cases: the
destroyed case's part is taken out of every revision, the other cases' parts stay. What
remains is the ``Erasure`` record and the ledger, which holds identifiers only.

Each function takes the case (or request) ids, deletes in batches, and returns how many
rows of each table went: counts are all the ledger learns.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from cases.models import (
    CaseTeamMember,
    ConflictWall,
    MustNotReceive,
    NeedToKnowGrant,
    Person,
    PersonKey,
    PossibleRepeat,
    Referral,
    ReferralParty,
    ReferralShare,
    RepeatReview,
    RiskAssessment,
    Whereabouts,
    WhereaboutsReveal,
)
from consent.models import ConsentRecord, SharingDecision
from meetings.models import (
    Action,
    ActionReview,
    AgendaItem,
    CaseDiscussion,
    Contribution,
    MinutesRevision,
    ResearchSubmission,
    ResearchWithheld,
)
from retention.models import LegalHold, RecordClass
from subject_access.models import Redaction, SubjectAccessRequest
from todo.models import Task, TaskEvent, TaskNotification
from transfers.models import Transfer

#: Ids per statement: well inside SQLite's and PostgreSQL's limits on bound parameters.
BATCH = 500


def chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(set(ids))
    for start in range(0, len(items), BATCH):
        yield items[start : start + BATCH]


class _Run:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.rows: Counter[str] = Counter()

    def ids(self, column: Any, where: Any, ids: Iterable[int]) -> list[int]:
        found: list[int] = []
        for chunk in chunks(ids):
            found.extend(self.session.execute(select(column).where(where.in_(chunk))).scalars())
        return found

    def delete(self, model: Any, column: Any, ids: Iterable[int]) -> None:
        for chunk in chunks(ids):
            result: Any = self.session.execute(
                delete(model).where(column.in_(chunk)).execution_options(synchronize_session=False)
            )
            self.rows[model.__tablename__] += result.rowcount or 0

    def clear(self, model: Any, column: Any, ids: Iterable[int], **values: Any) -> None:
        for chunk in chunks(ids):
            self.session.execute(
                update(model)
                .where(column.in_(chunk))
                .values(**values)
                .execution_options(synchronize_session=False)
            )


def _items_of(run: _Run, case_ids: Sequence[int]) -> list[int]:
    return run.ids(AgendaItem.id, AgendaItem.referral_id, case_ids)


def _research(run: _Run, items: Sequence[int]) -> None:
    research = run.ids(ResearchSubmission.id, ResearchSubmission.agenda_item_id, items)
    run.delete(ResearchWithheld, ResearchWithheld.research_id, research)
    run.delete(ResearchSubmission, ResearchSubmission.id, research)


def _discussion(run: _Run, items: Sequence[int]) -> None:
    run.delete(Contribution, Contribution.agenda_item_id, items)
    run.delete(CaseDiscussion, CaseDiscussion.agenda_item_id, items)


def _actions(run: _Run, case_ids: Sequence[int]) -> None:
    actions = run.ids(Action.id, Action.referral_id, case_ids)
    run.delete(ActionReview, ActionReview.action_id, actions)
    run.delete(Action, Action.id, actions)
    tasks = run.ids(Task.id, Task.referral_id, case_ids)
    run.delete(TaskNotification, TaskNotification.task_id, tasks)
    run.delete(TaskEvent, TaskEvent.task_id, tasks)
    run.delete(Task, Task.id, tasks)


def _scrub_minutes(run: _Run, case_ids: Sequence[int], record_class: RecordClass) -> None:
    """Take the cases' part out of each approved revision of their meetings' minutes."""
    wanted = set(case_ids)
    meetings: set[int] = set()
    for chunk in chunks(case_ids):
        meetings.update(
            run.session.execute(
                select(AgendaItem.meeting_id).where(AgendaItem.referral_id.in_(chunk))
            ).scalars()
        )
    for chunk in chunks(meetings):
        revisions = run.session.execute(
            select(MinutesRevision.id, MinutesRevision.content).where(
                MinutesRevision.meeting_id.in_(chunk)
            )
        ).all()
        for revision_id, content in revisions:
            changed = _scrubbed(content, wanted, record_class)
            if changed is not None:
                run.session.execute(
                    update(MinutesRevision)
                    .where(MinutesRevision.id == revision_id)
                    .values(content=changed)
                    .execution_options(synchronize_session=False)
                )
                run.rows["meeting_minutes_revisions"] += 1


def _scrubbed(
    content: dict[str, Any], cases: set[int], record_class: RecordClass
) -> dict[str, Any] | None:
    items = content.get("items", [])
    review = content.get("review", [])
    if not any(i.get("referral_id") in cases for i in items) and not any(
        r.get("referral_id") in cases for r in review
    ):
        return None
    out = dict(content)
    out["review"] = [r for r in review if r.get("referral_id") not in cases]
    if record_class is RecordClass.CASE:
        out["items"] = [i for i in items if i.get("referral_id") not in cases]
        return out
    kept = []
    for item in items:
        if item.get("referral_id") in cases:
            item = dict(item)
            if record_class is RecordClass.MINUTES:
                item["discussion"] = dict.fromkeys(item.get("discussion", {}), "")
                item["contributions"] = []
                item["informs_victim_name"] = ""
                item["whereabouts_reason"] = ""
                item["deferral_reason"] = ""
            if record_class in {RecordClass.MINUTES, RecordClass.ACTIONS}:
                item["actions"] = []
            if record_class is RecordClass.WHEREABOUTS:
                item["include_whereabouts"] = False
                item["whereabouts_reason"] = ""
        kept.append(item)
    out["items"] = kept
    return out


def _people_of(run: _Run, case_ids: Sequence[int]) -> set[int]:
    people = set(run.ids(Referral.victim_id, Referral.id, case_ids))
    people.update(run.ids(ReferralParty.person_id, ReferralParty.referral_id, case_ids))
    people.discard(None)  # type: ignore[arg-type]
    return people


def _still_named(run: _Run, people: set[int], gone: set[int]) -> set[int]:
    """Of these people, those a case that stays still names (never destroyed with another)."""
    kept: set[int] = set()
    for chunk in chunks(people):
        for referral_id, person_id in run.session.execute(
            select(Referral.id, Referral.victim_id).where(Referral.victim_id.in_(chunk))
        ):
            if referral_id not in gone:
                kept.add(person_id)
        for referral_id, person_id in run.session.execute(
            select(ReferralParty.referral_id, ReferralParty.person_id).where(
                ReferralParty.person_id.in_(chunk)
            )
        ):
            if referral_id not in gone:
                kept.add(person_id)
    return kept


def _whereabouts(run: _Run, case_ids: Sequence[int]) -> None:
    people = _people_of(run, case_ids)
    people -= _still_named(run, people, set(case_ids))
    run.delete(Whereabouts, Whereabouts.person_id, people)
    run.delete(WhereaboutsReveal, WhereaboutsReveal.referral_id, case_ids)
    items = _items_of(run, case_ids)
    run.clear(
        CaseDiscussion,
        CaseDiscussion.agenda_item_id,
        items,
        include_whereabouts=False,
        whereabouts_reason="",
    )
    _scrub_minutes(run, case_ids, RecordClass.WHEREABOUTS)


def _consent(run: _Run, case_ids: Sequence[int]) -> None:
    run.delete(ConsentRecord, ConsentRecord.referral_id, case_ids)
    run.delete(SharingDecision, SharingDecision.referral_id, case_ids)


def destroy_class(
    session: Session, record_class: RecordClass, case_ids: Sequence[int]
) -> Counter[str]:
    """Destroy one record class of these cases (not the cases themselves)."""
    run = _Run(session)
    if record_class is RecordClass.CHECKLIST:
        run.delete(RiskAssessment, RiskAssessment.referral_id, case_ids)
    elif record_class is RecordClass.WHEREABOUTS:
        _whereabouts(run, case_ids)
    elif record_class is RecordClass.RESEARCH:
        _research(run, _items_of(run, case_ids))
    elif record_class is RecordClass.MINUTES:
        _discussion(run, _items_of(run, case_ids))
        _scrub_minutes(run, case_ids, RecordClass.MINUTES)
    elif record_class is RecordClass.ACTIONS:
        _actions(run, case_ids)
        _scrub_minutes(run, case_ids, RecordClass.ACTIONS)
    elif record_class is RecordClass.CONSENT:
        _consent(run, case_ids)
    elif record_class is RecordClass.CASE:
        return destroy_cases(session, case_ids)
    else:
        raise ValueError(f"{record_class} is not a class of a case")
    return run.rows


def destroy_cases(session: Session, case_ids: Sequence[int]) -> Counter[str]:
    """Destroy these cases whole: every row about them and the people only they name."""
    run = _Run(session)
    gone = set(case_ids)
    people = _people_of(run, case_ids)
    _whereabouts(run, case_ids)
    _scrub_minutes(run, case_ids, RecordClass.CASE)
    items = _items_of(run, case_ids)
    _research(run, items)
    _discussion(run, items)
    _actions(run, case_ids)
    run.clear(AgendaItem, AgendaItem.deferred_from_item_id, items, deferred_from_item_id=None)
    run.delete(AgendaItem, AgendaItem.id, items)
    _consent(run, case_ids)
    run.delete(RiskAssessment, RiskAssessment.referral_id, case_ids)
    for model in (
        ReferralParty,
        ReferralShare,
        CaseTeamMember,
        MustNotReceive,
        ConflictWall,
        RepeatReview,
        NeedToKnowGrant,
        PossibleRepeat,
    ):
        run.delete(model, model.referral_id, case_ids)
    run.delete(RepeatReview, RepeatReview.earlier_id, case_ids)
    run.delete(PossibleRepeat, PossibleRepeat.earlier_id, case_ids)
    run.delete(Transfer, Transfer.referral_id, case_ids)
    # The pack a transfer brought is the new case's first content: it goes with the case.
    run.clear(
        Transfer, Transfer.new_referral_id, case_ids, new_referral_id=None, pack={}, package=""
    )
    run.clear(Referral, Referral.previous_referral_id, case_ids, previous_referral_id=None)
    run.clear(Referral, Referral.counter_allegation_id, case_ids, counter_allegation_id=None)
    run.delete(LegalHold, LegalHold.case_id, case_ids)
    run.delete(Referral, Referral.id, case_ids)
    people -= _still_named(run, people, gone)
    run.clear(
        SubjectAccessRequest,
        SubjectAccessRequest.subject_person_id,
        people,
        subject_person_id=None,
    )
    run.delete(Whereabouts, Whereabouts.person_id, people)
    run.delete(PersonKey, PersonKey.person_id, people)
    run.delete(Person, Person.id, people)
    return run.rows


def destroy_requests(session: Session, request_ids: Sequence[int]) -> Counter[str]:
    """Destroy these subject access files: the request and its redaction decisions."""
    run = _Run(session)
    run.delete(Redaction, Redaction.request_id, request_ids)
    run.delete(SubjectAccessRequest, SubjectAccessRequest.id, request_ids)
    return run.rows
