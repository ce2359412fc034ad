"""Conference pages: schedule, agenda, circulation, research, the chair's live pages, minutes.

Views are thin: they parse a form, call one service, and render or redirect. Case content
reaches a template only from a gate decision, through ``meetings.presenters`` (agenda rows,
the record of a case, the review, the amend page, the minutes) and
``cases.casefile``; views never import the models. Each route loads its meeting, and
its agenda line or action, once, through one loader (``with_meeting``, ``with_item``), which
authorises as it loads: a line whose case the person may not know is the concealed 404. The
chair's case page saves by plain form posts; ``meetings/static/meetings/chair.js`` adds
autosave on top (JSON answers).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from agencies.models import Cadence
from audit.actions import LedgerAction
from cases import casefile
from hub.core.access import Permission
from hub.core.clock import now, to_london, today_london
from hub.core.errors import Conflict, HubError, ValidationFailed
from hub.core.forms import apply_errors, choices
from hub.core.requestctx import actor
from hub.core.routes import public, require
from meetings import conduct, minutes, research, services
from meetings.codes import (
    DISCUSSION_FIELDS,
    AttendanceKind,
    ItemStatus,
    MeetingKind,
    MeetingStatus,
    MinutesStatus,
)
from meetings.forms import (
    ActionForm,
    AddCaseForm,
    AmendForm,
    AttendanceForm,
    CirculateForm,
    ContributionForm,
    DiscussionForm,
    PlainForm,
    ReasonForm,
    ReviewForm,
    ScheduleForm,
    research_form,
)

bp = Blueprint(
    "meetings",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/meetings/static",
)


def with_meeting(view: Callable[..., Any]) -> Callable[..., Any]:
    """Load the meeting the URL names for this person (a meeting they may not see is a 404)."""

    @functools.wraps(view)
    def loaded(meeting_id: int, **values: Any) -> Any:
        return view(services.get_meeting(actor(), meeting_id), **values)

    return loaded


def with_item(operation: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Load the meeting and one line of its agenda, asking the gate whether this person may
    act on its case (``operation`` names the attempt in a refusal)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def loaded(meeting_id: int, item_id: int, **values: Any) -> Any:
            who = actor()
            meeting = services.get_meeting(who, meeting_id)
            return view(meeting, services.load_item(who, meeting, item_id, operation), **values)

        return loaded

    return decorate


def _see(endpoint: str, status: int = 303, anchor: str | None = None, **values: Any) -> Response:
    return redirect(url_for(endpoint, _anchor=anchor, **values), code=status)


def _day_of(field: Any) -> date | None:
    """A GovDateField's date. It reports WTForms' "unset" marker, not None, when the post
    carried no date boxes at all, so check the type."""
    return field.data if isinstance(field.data, date) else None


def _flash_error(error: HubError) -> None:
    if isinstance(error, ValidationFailed):
        for message in dict.fromkeys(error.errors.values()):
            flash(message, "info")
    else:
        flash(error.message, "info")


# --- list and schedule --------------------------------------------------------------------


@bp.route("/meetings")
@require(Permission.MEETINGS_READ)
def index() -> str:
    who = actor()
    return render_template(
        "meetings/index.html",
        meetings=services.list_meetings(who),
        can_run=who.can(Permission.MEETINGS_RUN),
    )


@bp.route("/meetings/schedule", methods=["GET", "POST"])
@require(Permission.MEETINGS_RUN)
def schedule() -> Any:
    who = actor()
    form = ScheduleForm()
    if request.method == "POST" and form.validate():
        try:
            made = services.schedule_meetings(
                who,
                services.ScheduleData(
                    first_on=_day_of(form.first_on),
                    start_time=form.start_time.data,
                    venue=form.venue.data or "",
                    kind=MeetingKind(form.kind.data),
                    cadence=Cadence(form.cadence.data) if form.cadence.data else None,
                    count=form.count.data or 1,
                ),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"{len(made)} meeting{'s' if len(made) != 1 else ''} scheduled.", "success")
            return _see("meetings.meeting", meeting_id=made[0].id)
    return render_template("meetings/schedule.html", form=form), (
        422 if request.method == "POST" else 200
    )


# --- the meeting and its agenda -----------------------------------------------------------


def _meeting_page(
    meeting: Any, *, add_form: AddCaseForm | None = None, status: int = 200
) -> tuple[str, int]:
    who = actor()
    runner = services.is_runner(who, meeting)
    rows = services.agenda_rows(who, meeting)
    minutes_row = services.minutes_of(meeting)
    return render_template(
        "meetings/meeting.html",
        meeting=meeting,
        rows=rows,
        runner=runner,
        chair=services.is_chair(who, meeting),
        add_form=add_form or AddCaseForm(),
        plain=PlainForm(),
        invited=services.is_invited(who, meeting),
        can_research=who.can(Permission.RESEARCH_WRITE)
        and services.is_invited(who, meeting)
        and meeting.status != MeetingStatus.HELD,
        past_cutoff=services.is_past_cutoff(meeting),
        reference_example=services.reference_example(meeting) if runner else "",
        minutes=minutes_row,
        can_extract=minutes.can_download_extract(who, meeting),
        agencies={a.id: a.name for a in services.area_agencies(meeting.area_id)},
    ), status


@bp.route("/meetings/<int:meeting_id>")
@require(Permission.MEETINGS_READ)
@with_meeting
def meeting(found: Any) -> Any:
    return _meeting_page(found)


@bp.route("/meetings/<int:meeting_id>/agenda/build", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_meeting
def build(found: Any) -> Any:
    try:
        added = services.build_agenda(actor(), found)
    except (ValidationFailed, Conflict) as error:
        _flash_error(error)
    else:
        flash(
            f"{len(added)} case{'s' if len(added) != 1 else ''} added to the agenda."
            if added
            else "No more cases are ready for this agenda.",
            "success",
        )
    return _see("meetings.meeting", meeting_id=found.id)


@bp.route("/meetings/<int:meeting_id>/agenda/add", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_meeting
def add(found: Any) -> Any:
    who = actor()
    form = AddCaseForm()
    if form.validate():
        try:
            item = services.add_case(who, found, form.reference.data or "", form.reason.data or "")
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            _flash_error(error)
            return _see("meetings.meeting", meeting_id=found.id)
        else:
            flash(
                f"Case added to the agenda as number {services.seen_number(who, found, item)}.",
                "success",
            )
            return _see("meetings.meeting", meeting_id=found.id)
    return _meeting_page(found, add_form=form, status=422)


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/move", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_item(LedgerAction.AGENDA_REORDERED)
def move(found: Any, item: Any) -> Any:
    try:
        services.move_item(actor(), found, item.id, request.form.get("direction", ""))
    except (ValidationFailed, Conflict) as error:
        _flash_error(error)
    return _see("meetings.meeting", meeting_id=found.id, anchor=f"item-{item.id}")


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/defer", methods=["GET", "POST"])
@require(Permission.MEETINGS_RUN)
@with_item(LedgerAction.AGENDA_CASE_DEFERRED)
def defer(found: Any, item: Any) -> Any:
    who = actor()
    services.require_runner(who, found)
    form = ReasonForm()
    if request.method == "POST" and form.validate():
        try:
            services.defer_item(who, found, item.id, form.reason.data or "")
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("The case is deferred to the next meeting.", "success")
            return _see("meetings.meeting", meeting_id=found.id)
    row = services.agenda_row(who, found, item, action=LedgerAction.AGENDA_VIEWED)
    return render_template("meetings/defer.html", meeting=found, row=row, form=form), (
        422 if request.method == "POST" else 200
    )


@bp.route("/meetings/<int:meeting_id>/agenda/<int:item_id>/remove", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_item(LedgerAction.AGENDA_CASE_REMOVED)
def remove(found: Any, item: Any) -> Any:
    try:
        services.remove_item(actor(), found, item.id)
    except (ValidationFailed, Conflict) as error:
        _flash_error(error)
    else:
        flash("The case is off this agenda.", "success")
    return _see("meetings.meeting", meeting_id=found.id)


@bp.route("/meetings/<int:meeting_id>/circulate", methods=["GET", "POST"])
@require(Permission.MEETINGS_RUN)
@with_meeting
def circulate(found: Any) -> Any:
    who = actor()
    services.require_runner(who, found)
    agencies = services.area_agencies(found.area_id)
    form = CirculateForm()
    form.agency_ids.choices = choices([(a.id, a.name) for a in agencies])
    if request.method == "GET":
        form.agency_ids.data = sorted(found.invited_agency_ids) or [a.id for a in agencies]
    elif form.validate():
        try:
            made = services.circulate_agenda(who, found, form.agency_ids.data)
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            _flash_error(error)
            return _see("meetings.meeting", meeting_id=found.id)
        else:
            flash(
                f"Agenda circulated to {len(made)} agenc{'ies' if len(made) != 1 else 'y'}."
                if made
                else "The agenda has been circulated; no new agency was invited.",
                "success",
            )
            return _see("meetings.meeting", meeting_id=found.id)
    return render_template(
        "meetings/circulate.html",
        meeting=found,
        form=form,
        agencies=agencies,
        invited=found.invited_agency_ids,
    ), (422 if request.method == "POST" else 200)


# --- research -----------------------------------------------------------------------------


def _research_form(own: Any, rows: int) -> Any:
    form = research_form(max(rows, 0))()
    if request.method == "GET" and own is not None:
        form.facts.data, form.opinions.data = own.facts, own.opinions
        form.to_share.data, form.version.data = own.to_share, own.version
        for number, held in enumerate(own.withheld):
            form[f"withheld_item_{number}"].data = held.item
            form[f"withheld_reason_{number}"].data = held.reason
    return form


@bp.route("/meetings/<int:meeting_id>/research/<int:item_id>", methods=["GET", "POST"])
@require(Permission.RESEARCH_WRITE)
@with_item(LedgerAction.RESEARCH_CASE_OPENED)
def research_page(found: Any, item: Any) -> Any:
    who = actor()
    own = None
    if request.method == "GET":
        referral, disclosure, own = research.research_of(who, found, item)
        rows = len(own.withheld) if own is not None else 0
        form = _research_form(own, rows)
        status = 200
    else:
        posted = sum(1 for key in request.form if key.startswith("withheld_item_")) - 2
        rows = min(posted, research.MAX_WITHHELD + 1)  # the service refuses more than that
        form = _research_form(None, rows)
        status = 422
        if form.validate():
            withheld = [
                research.WithheldRow(
                    form[f"withheld_item_{n}"].data or "", form[f"withheld_reason_{n}"].data or ""
                )
                for n in range(max(rows, 0) + 2)
            ]
            try:
                research.save_research(
                    who,
                    found,
                    item,
                    research.ResearchData(
                        facts=form.facts.data or "",
                        opinions=form.opinions.data or "",
                        to_share=form.to_share.data or "",
                        withheld=withheld,
                        version=form.version.data,
                    ),
                )
            except ValidationFailed as error:
                apply_errors(form, error)
            except Conflict as error:
                form.form_errors.append(error.message)
            else:
                flash("Your agency's research is saved. Only your agency can see it.", "success")
                return _see("meetings.research_page", meeting_id=found.id, item_id=item.id)
        # Shown again with what was typed: the case's name is disclosed (and recorded).
        referral, disclosure = research.open_for_research(who, found, item)
    return render_template(
        "meetings/research.html",
        meeting=found,
        item_id=item.id,
        view=casefile.case_view(referral, disclosure),
        form=form,
        rows=max(rows, 0) + 2,
        own=own,
        can_share=found.status == MeetingStatus.CIRCULATED,
        plain=PlainForm(),
    ), status


@bp.route("/meetings/<int:meeting_id>/research/<int:item_id>/share", methods=["POST"])
@require(Permission.RESEARCH_WRITE)
@with_item(LedgerAction.RESEARCH_SHARED)
def share(found: Any, item: Any) -> Any:
    try:
        research.share_at_meeting(actor(), found, item)
    except (ValidationFailed, Conflict) as error:
        _flash_error(error)
    else:
        flash(
            "Shared at the meeting: it is recorded as your agency's information and will "
            "be in the minutes.",
            "success",
        )
    return _see("meetings.research_page", meeting_id=found.id, item_id=item.id)


# --- the chair's pages --------------------------------------------------------------------


def _agency_choices(meeting: Any, blank: str = "Select an agency") -> list[tuple[int, str]]:
    return [(0, blank)] + [(a.id, a.name) for a in services.area_agencies(meeting.area_id)]


def _run_page(
    meeting: Any,
    *,
    attendance_form: AttendanceForm | None = None,
    review_errors: dict[int, str] | None = None,
    close_errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    who = actor()
    services.require_runner(who, meeting)
    form = attendance_form or AttendanceForm()
    form.agency_id.choices = choices(_agency_choices(meeting))
    rows = services.agenda_rows(who, meeting, action=LedgerAction.MEETING_AGENDA_VIEWED)
    return render_template(
        "meetings/run.html",
        meeting=meeting,
        rows=rows,
        form=form,
        review=conduct.review_rows(who, meeting),
        review_form=ReviewForm(),
        review_errors=review_errors or {},
        close_errors=close_errors or {},
        editable=conduct.can_record(who, meeting),
        chair=services.is_chair(who, meeting),
        before_its_day=meeting.held_on > today_london(),
        plain=PlainForm(),
        agencies=dict(_agency_choices(meeting)),
        kinds=list(AttendanceKind),
    ), status


@bp.route("/meetings/<int:meeting_id>/run")
@require(Permission.MEETINGS_RUN)
@with_meeting
def run(found: Any) -> Any:
    return _run_page(found)


@bp.route("/meetings/<int:meeting_id>/run/confidentiality", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_meeting
def confidentiality(found: Any) -> Any:
    try:
        conduct.mark_confidentiality_read(actor(), found)
    except (ValidationFailed, Conflict) as error:
        _flash_error(error)
    return _see("meetings.run", meeting_id=found.id, anchor="attendance")


@bp.route("/meetings/<int:meeting_id>/run/attendance", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_meeting
def attendance(found: Any) -> Any:
    form = AttendanceForm()
    form.agency_id.choices = choices(_agency_choices(found))
    if form.validate():
        try:
            conduct.record_attendance(
                actor(),
                found,
                conduct.AttendanceData(
                    kind=form.kind.data or "",
                    agency_id=form.agency_id.data or None,
                    name=form.name.data or "",
                    role=form.role.data or "",
                    information_received_on=_day_of(form.information_received_on),
                    confidentiality_signed=bool(form.confidentiality_signed.data),
                ),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            _flash_error(error)
            return _see("meetings.run", meeting_id=found.id)
        else:
            return _see("meetings.run", meeting_id=found.id, anchor="attendance")
    return _run_page(found, attendance_form=form, status=422)


@bp.route("/meetings/<int:meeting_id>/run/attendance/<int:row_id>/remove", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_meeting
def attendance_remove(found: Any, row_id: int) -> Any:
    try:
        conduct.remove_attendance(actor(), found, row_id)
    except (ValidationFailed, Conflict) as error:
        _flash_error(error)
    return _see("meetings.run", meeting_id=found.id, anchor="attendance")


@bp.route("/meetings/<int:meeting_id>/run/review/<int:action_id>", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_meeting
def review(found: Any, action_id: int) -> Any:
    who = actor()
    conduct.outstanding_action(who, found, action_id, LedgerAction.MEETING_ACTION_REVIEWED)
    form = ReviewForm()
    try:
        if not form.validate():
            raise ValidationFailed(
                {"outcome": form.outcome.errors[0] if form.outcome.errors else "Choose an outcome"}
            )
        conduct.review_action(who, found, action_id, form.outcome.data or "", form.note.data or "")
    except ValidationFailed as error:
        return _run_page(found, review_errors={action_id: error.message}, status=422)
    except Conflict as error:
        _flash_error(error)
    return _see("meetings.run", meeting_id=found.id, anchor=f"action-{action_id}")


def _case_page(
    meeting: Any,
    item: Any,
    *,
    discussion_form: DiscussionForm | None = None,
    contribution_form: ContributionForm | None = None,
    action_form: ActionForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    page = conduct.case_page(actor(), meeting, item)
    record = page.record
    form = discussion_form
    if form is None:
        form = DiscussionForm(
            data={
                **record.discussion,
                "informs_victim_agency_id": record.informs_victim_agency_id or 0,
                "informs_victim_name": record.informs_victim_name,
                "include_whereabouts": record.include_whereabouts,
                "whereabouts_reason": record.whereabouts_reason,
            }
        )
    form.informs_victim_agency_id.choices = choices(_agency_choices(meeting))
    contribution = contribution_form or ContributionForm(prefix="shared")
    contribution.agency_id.choices = choices(_agency_choices(meeting))
    action = action_form or ActionForm(prefix="action")
    action.owner_member_id.choices = choices([(0, "Select who owns the action"), *page.owners])
    return render_template(
        "meetings/case.html",
        meeting=meeting,
        page=page,
        record=record,
        view=page.view,
        form=form,
        contribution_form=contribution,
        action_form=action,
        fields=DISCUSSION_FIELDS,
        agencies=dict(_agency_choices(meeting)),
        editable=page.editable,
        can_outcome=page.can_outcome,
        plain=PlainForm(),
        reason_form=ReasonForm(),
        ItemStatus=ItemStatus,
    ), status


@bp.route("/meetings/<int:meeting_id>/run/<int:item_id>")
@require(Permission.MEETINGS_RUN)
@with_item(LedgerAction.MEETING_CASE_OPENED)
def case(found: Any, item: Any) -> Any:
    return _case_page(found, item)


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


def _discussion_values(form: DiscussionForm, *, chair: bool) -> dict[str, Any]:
    """A partial save (autosave) sends only the fields that changed; a plain post, all.

    Only the chair's page offers the whereabouts choice, so only the chair's post carries it.
    """
    names = [*conduct.TEXT_FIELDS, *conduct.OTHER_FIELDS]
    if not chair:
        names = [n for n in names if n not in {"include_whereabouts", "whereabouts_reason"}]
    if request.form.get("_partial") == "1":
        values: dict[str, Any] = {}
        for name in names:
            if name in request.form:
                values[name] = request.form.get(name, "")
        if "include_whereabouts" in values:
            values["include_whereabouts"] = values["include_whereabouts"] in {"1", "y", "on"}
        return values
    values = {name: form[name].data or "" for name in conduct.TEXT_FIELDS}
    values["informs_victim_agency_id"] = form.informs_victim_agency_id.data or ""
    values["informs_victim_name"] = form.informs_victim_name.data or ""
    if chair:
        values["include_whereabouts"] = bool(form.include_whereabouts.data)
        values["whereabouts_reason"] = form.whereabouts_reason.data or ""
    return values


@bp.route("/meetings/<int:meeting_id>/run/<int:item_id>/discussion", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_item(LedgerAction.MEETING_DISCUSSION_SAVED)
def discussion(found: Any, item: Any) -> Any:
    who = actor()
    form = DiscussionForm()
    form.informs_victim_agency_id.choices = choices(_agency_choices(found))
    values = _discussion_values(form, chair=services.is_chair(who, found))
    try:
        saved = conduct.save_discussion(who, found, item, values)
    except ValidationFailed as error:
        if _wants_json():
            return jsonify({"saved": False, "errors": error.errors}), 422
        apply_errors(form, error)
        return _case_page(found, item, discussion_form=form, status=422)
    except HubError as error:
        if _wants_json():
            return jsonify({"saved": False, "error": error.message}), error.status
        if not isinstance(error, Conflict):
            raise
        _flash_error(error)
        return _see("meetings.case", meeting_id=found.id, item_id=item.id)
    if _wants_json():
        return jsonify(
            {"saved": True, "saved_at": to_london(saved.updated_at or now()).strftime("%H:%M:%S")}
        )
    following = (
        conduct.next_item_id(who, found, item) if request.form.get("then") == "next" else None
    )
    if following is not None:
        return _see("meetings.case", meeting_id=found.id, item_id=following)
    flash("Saved.", "success")
    return _see("meetings.case", meeting_id=found.id, item_id=item.id)


@bp.route("/meetings/<int:meeting_id>/run/<int:item_id>/contributions", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_item(LedgerAction.MEETING_INFORMATION_SHARED)
def contribution(found: Any, item: Any) -> Any:
    form = ContributionForm(prefix="shared")
    form.agency_id.choices = choices(_agency_choices(found))
    if form.validate():
        try:
            conduct.add_contribution(
                actor(), found, item, form.agency_id.data or None, form.text.data or ""
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            _flash_error(error)
            return _see("meetings.case", meeting_id=found.id, item_id=item.id)
        else:
            return _see("meetings.case", meeting_id=found.id, item_id=item.id, anchor="shared")
    return _case_page(found, item, contribution_form=form, status=422)


@bp.route("/meetings/<int:meeting_id>/run/<int:item_id>/actions", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_item(LedgerAction.MEETING_ACTION_AGREED)
def action(found: Any, item: Any) -> Any:
    form = ActionForm(prefix="action")
    form.owner_member_id.choices = []
    if form.validate():
        try:
            conduct.add_action(
                actor(),
                found,
                item,
                conduct.ActionData(
                    text=form.text.data or "",
                    owner_member_id=form.owner_member_id.data or None,
                    due_on=_day_of(form.due_on),
                ),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            _flash_error(error)
            return _see("meetings.case", meeting_id=found.id, item_id=item.id)
        else:
            flash("Action agreed: it is on the owner's to-do list.", "success")
            return _see("meetings.case", meeting_id=found.id, item_id=item.id, anchor="actions")
    return _case_page(found, item, action_form=form, status=422)


@bp.route("/meetings/<int:meeting_id>/run/<int:item_id>/outcome", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_item(LedgerAction.MEETING_CASE_OUTCOME)
def outcome(found: Any, item: Any) -> Any:
    who = actor()
    choice = request.form.get("outcome", "")
    try:
        conduct.set_outcome(who, found, item, choice, request.form.get("reason", ""))
    except (ValidationFailed, Conflict) as error:
        _flash_error(error)
        return _see("meetings.case", meeting_id=found.id, item_id=item.id)
    following = conduct.next_item_id(who, found, item) if choice != "listed" else None
    if following is not None:
        return _see("meetings.case", meeting_id=found.id, item_id=following)
    return _see("meetings.run", meeting_id=found.id, anchor="cases")


@bp.route("/meetings/<int:meeting_id>/close", methods=["POST"])
@require(Permission.MEETINGS_CHAIR)
@with_meeting
def close(found: Any) -> Any:
    try:
        conduct.close_meeting(actor(), found)
    except ValidationFailed as error:
        return _run_page(found, close_errors=error.errors, status=422)
    except Conflict as error:
        _flash_error(error)
        return _see("meetings.run", meeting_id=found.id)
    flash(
        "The meeting is closed. The coordinator has 3 working days to send out the minutes.",
        "success",
    )
    return _see("meetings.minutes_page", meeting_id=found.id)


# --- minutes ------------------------------------------------------------------------------


def _minutes_page(
    meeting: Any,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    revision: int | None = None,
) -> tuple[str, int]:
    who = actor()
    services.require_runner(who, meeting)
    document = minutes.documents_for_page(who, meeting, revision)
    row = services.minutes_of(meeting)
    missing = (
        minutes.missing_for_approval(meeting, actor=who)
        if row is not None and not row.is_locked
        else {}
    )
    return render_template(
        "meetings/minutes.html",
        meeting=meeting,
        doc=document,
        minutes=row,
        errors=errors or {},
        missing=missing,
        chair=services.is_chair(who, meeting),
        plain=PlainForm(),
        MinutesStatus=MinutesStatus,
        viewing=revision,
    ), status


@bp.route("/meetings/<int:meeting_id>/minutes")
@require(Permission.MEETINGS_RUN)
@with_meeting
def minutes_page(found: Any) -> Any:
    return _minutes_page(found)


@bp.route("/meetings/<int:meeting_id>/minutes/revisions/<int(min=1, max=1000000):number>")
@require(Permission.MEETINGS_RUN)
@with_meeting
def minutes_revision(found: Any, number: int) -> Any:
    """One earlier revision of the approved minutes, as it stood (the newest is the page)."""
    return _minutes_page(found, revision=number)


@bp.route("/meetings/<int:meeting_id>/minutes/approve", methods=["POST"])
@require(Permission.MEETINGS_CHAIR)
@with_meeting
def approve(found: Any) -> Any:
    try:
        minutes.approve_minutes(actor(), found)
    except ValidationFailed as error:
        return _minutes_page(found, errors=error.errors, status=422)
    except Conflict as error:
        _flash_error(error)
        return _see("meetings.minutes_page", meeting_id=found.id)
    flash("Minutes approved. They are locked: later changes are amendments.", "success")
    return _see("meetings.minutes_page", meeting_id=found.id)


@bp.route("/meetings/<int:meeting_id>/minutes/amend", methods=["GET", "POST"])
@require(Permission.MEETINGS_CHAIR)
@with_meeting
def amend(found: Any) -> Any:
    who = actor()
    form = AmendForm()
    errors: dict[str, str] = {}
    changes: dict[str, str] = {}
    if request.method == "POST" and form.validate():
        # Every section key posted goes to the service, which asks the gate for each case
        # it names: a forged key for a case the chair may not know is the concealed 404.
        changes = {k: v for k, v in request.form.items() if k.startswith("item-")}
        try:
            made = minutes.amend_minutes(who, found, changes, form.reason.data or "")
        except ValidationFailed as error:
            errors = error.errors
        except Conflict as error:
            _flash_error(error)
            return _see("meetings.minutes_page", meeting_id=found.id)
        else:
            flash(
                f"Amendment saved as revision {made.number}. The earlier text is kept.", "success"
            )
            return _see("meetings.minutes_page", meeting_id=found.id)
    revision, cases = minutes.amend_page(who, found)
    if revision is None:
        flash("Only approved minutes are amended: change the draft directly.", "info")
        return _see("meetings.minutes_page", meeting_id=found.id)
    return render_template(
        "meetings/amend.html",
        meeting=found,
        cases=cases,
        values=changes,
        form=form,
        errors=errors,
        revision_number=revision.number,
    ), (422 if request.method == "POST" else 200)


@bp.route("/meetings/<int:meeting_id>/minutes/distribute", methods=["POST"])
@require(Permission.MEETINGS_RUN)
@with_meeting
def distribute(found: Any) -> Any:
    try:
        minutes.distribute_minutes(actor(), found)
    except (ValidationFailed, Conflict) as error:
        _flash_error(error)
    else:
        flash("Minutes sent out: each involved agency can now download its extract.", "success")
    return _see("meetings.minutes_page", meeting_id=found.id)


def _pdf(meeting: Any, scope: str) -> Response:
    settings = current_app.extensions["hub.settings"]
    rendered = minutes.render_minutes(actor(), meeting, scope, base_url=settings.base_url)
    response = Response(rendered.data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
    response.headers["X-Content-SHA256"] = rendered.sha256
    return response


@bp.route("/meetings/<int:meeting_id>/minutes.pdf")
@require(Permission.MEETINGS_RUN)
@with_meeting
def minutes_pdf(found: Any) -> Response:
    return _pdf(found, minutes.SCOPE_FULL)


@bp.route("/meetings/<int:meeting_id>/extract.pdf")
@require(Permission.MEETINGS_READ)
@with_meeting
def extract_pdf(found: Any) -> Response:
    return _pdf(found, minutes.SCOPE_EXTRACT)


def init_app(app: Flask) -> None:
    """Register the pages; the blueprint's static files (the chair's script) are public."""
    app.register_blueprint(bp)
    send_static = app.view_functions["meetings.static"]

    @public
    def static_file(filename: str) -> Response:
        """The chair's script and the pages' stylesheet: no case data, open to anyone."""
        return send_static(filename=filename)  # type: ignore[no-any-return]

    app.view_functions["meetings.static"] = static_file
