"""To-do pages: my list, the agency's queue, a case's tasks, overdue tasks, one task, the
agency's template, and notification settings.

Case visibility belongs to the disclosure gate: the to-do lists sit above the cases and ask
it directly (``todo.cases``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from agencies.models import Agency, AgencyType
from audit.ledger import Subject, record
from hub.core.access import Actor, Permission, require
from hub.core.clock import today_london
from hub.core.db import session
from hub.core.errors import Conflict, NotFound, ValidationFailed
from hub.core.forms import apply_errors, choices
from hub.core.requestctx import actor, current_actor
from todo import cases, catalogue, notify, services
from todo.forms import NotificationForm, ReassignForm, TaskUpdateForm, TemplateItemForm
from todo.models import NotificationMode, Priority, Task, TaskState, Trigger

bp = Blueprint("tasks", __name__, template_folder="templates", url_prefix="/tasks")


# --------------------------------------------------------------------------- case hooks


def can_see_case(who: Actor, referral_id: int) -> bool:
    """Whether the gate lets this person know this case (nothing shown, nothing recorded)."""
    return cases.can_see_case(who, referral_id)


def _case_reference(who: Actor, referral_id: int) -> str:
    return cases.case_reference(who, referral_id) or f"Case {referral_id}"


class _CaseView:
    """Per-request memo of what the viewer may see about each case on a page."""

    def __init__(self, who: Actor) -> None:
        self.who = who
        self.visible: dict[int, bool] = {}
        self.labels: dict[int, str] = {}

    def allows(self, task: Task) -> bool:
        if task.referral_id is None:
            return True
        if task.referral_id not in self.visible:
            self.visible[task.referral_id] = can_see_case(self.who, task.referral_id)
        return self.visible[task.referral_id]

    def label(self, referral_id: int | None) -> str:
        if referral_id is None:
            return ""
        if referral_id not in self.labels:
            self.labels[referral_id] = _case_reference(self.who, referral_id)
        return self.labels[referral_id]


# --------------------------------------------------------------------------- lists


def _query() -> services.ListQuery:
    return services.ListQuery(
        state=request.args.get("state", "active"),
        due=request.args.get("due", "any"),
        sort=request.args.get("sort", "due"),
        page=request.args.get("page", 1, type=int) or 1,
    ).cleaned()


def _render_list(template: str, page: services.TaskPage, who: Actor, **extra: Any) -> str:
    cases = _CaseView(who)
    shown = [t for t in page.tasks if cases.allows(t)]
    return render_template(
        template,
        page=page,
        tasks=shown,
        hidden=len(page.tasks) - len(shown),
        cases=cases,
        names=services.member_names(t.owner_member_id for t in shown),
        today=today_london(),
        states=services.STATE_FILTERS,
        State=TaskState,
        Priority=Priority,
        **extra,
    )


@bp.route("")
@require(Permission.TASKS_READ)
def my_list() -> str:
    who = actor()
    page = services.list_my_tasks(who, _query())
    queued = services.queue_count(who.agency_id) if who.agency_id else 0
    return _render_list("tasks/my_list.html", page, who, queue_total=queued)


@bp.route("/queue")
@require(Permission.TASKS_READ)
def queue() -> str:
    who = actor()
    return _render_list("tasks/queue.html", services.list_queue(who, _query()), who)


@bp.route("/overdue")
@require(Permission.TASKS_OVERSEE)
def overdue() -> str:
    who = actor()
    return _render_list("tasks/overdue.html", services.list_agency_overdue(who, _query()), who)


@bp.route("/case/<int:referral_id>")
@require(Permission.TASKS_READ)
def case_tasks(referral_id: int) -> str:
    who = actor()
    if not can_see_case(who, referral_id):
        raise NotFound("There is no such case, or you cannot see it.")
    page = services.list_case_tasks(who, referral_id, _query())
    return _render_list(
        "tasks/case.html",
        page,
        who,
        referral_id=referral_id,
        reference=_case_reference(who, referral_id),
    )


# --------------------------------------------------------------------------- one task


def _load(task_id: int) -> tuple[Actor, Task]:
    who = actor()
    task = services.get_task_for(who, task_id)
    if task.referral_id is not None and not can_see_case(who, task.referral_id):
        raise NotFound("There is no such task.")
    return who, task


def _owner_choices(task: Task) -> list[Any]:
    people = services.agency_members(task.agency_id)
    return choices(
        [("", "The agency's queue (nobody yet)")]
        + [(str(m.id), m.name + (f", {m.job_title}" if m.job_title else "")) for m in people]
    )


def _render_task(
    who: Actor,
    task: Task,
    *,
    update: TaskUpdateForm | None = None,
    reassign: ReassignForm | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Any:
    if update is None:
        update = TaskUpdateForm(
            formdata=None,
            state=task.state,
            due_on=task.due_on,
            priority=task.priority,
            version=str(task.version),
        )
    if reassign is None:
        reassign = ReassignForm(
            formdata=None, owner=str(task.owner_member_id or ""), version=str(task.version)
        )
    reassign.owner.choices = _owner_choices(task)
    history = services.task_history(task.id)
    mentioned: list[int | None] = [task.owner_member_id, task.created_by_id]
    for event in history:
        mentioned.append(event.member_id)
        owner = event.changes.get("owner")
        mentioned.extend(owner if isinstance(owner, list) else [owner])
    names = services.member_names(m for m in mentioned if isinstance(m, int))
    template_version = None
    if task.template_id is not None:
        from todo.models import TodoTemplate

        found = session().get(TodoTemplate, task.template_id)
        template_version = found.version if found else None
    cases = _CaseView(who)
    body = render_template(
        "tasks/task.html",
        task=task,
        update=update,
        reassign=reassign,
        problem=problem,
        history=history,
        names=names,
        cases=cases,
        today=today_london(),
        template_version=template_version,
        can_change=services.can_change_task(who, task),
        State=TaskState,
    )
    return body, status


@bp.route("/<int:task_id>")
@require(Permission.TASKS_READ)
def task_detail(task_id: int) -> Any:
    who, task = _load(task_id)
    return _render_task(who, task)


def _version(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@bp.route("/<int:task_id>/update", methods=["POST"])
@require(Permission.TASKS_MANAGE)
def task_update(task_id: int) -> Any:
    who, task = _load(task_id)
    form = TaskUpdateForm()
    if form.validate():
        change = services.TaskChange(
            state=form.state.data or None,
            # GovDateField leaves WTForms' unset marker when the boxes were not sent at all.
            due_on=form.due_on.data if isinstance(form.due_on.data, date) else None,
            priority=form.priority.data or None,
            note=form.note.data or "",
        )
        before = task.state
        try:
            services.update_task(who, task, version=_version(form.version.data), change=change)
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            session().rollback()
            fresh = services.get_task_for(who, task_id)
            return _render_task(who, fresh, problem=error.message, status=409)
        else:
            flash(
                "The task has been updated."
                if task.state == before
                else f"The task is now marked: {task.task_state.label.lower()}.",
                "success",
            )
            return redirect(url_for("tasks.task_detail", task_id=task.id))
    return _render_task(who, task, update=form, status=422)


@bp.route("/<int:task_id>/reassign", methods=["POST"])
@require(Permission.TASKS_MANAGE)
def task_reassign(task_id: int) -> Any:
    who, task = _load(task_id)
    form = ReassignForm()
    form.owner.choices = _owner_choices(task)
    raw = request.form.get("owner", "")
    owner_id = _version(raw) if raw else None
    if raw and owner_id is None:
        form.owner.errors = ["Select someone from the list"]
        return _render_task(who, task, reassign=form, status=422)
    try:
        services.reassign_task(
            who,
            task,
            version=_version(form.version.data),
            owner_member_id=owner_id,
            note=form.reassign_note.data or "",
            can_see_case=can_see_case,
        )
    except ValidationFailed as error:
        if "note" in error.errors:
            error.errors["reassign_note"] = error.errors.pop("note")
        apply_errors(form, error)
        return _render_task(who, task, reassign=form, status=422)
    except Conflict as error:
        session().rollback()
        fresh = services.get_task_for(who, task_id)
        return _render_task(who, fresh, problem=error.message, status=409)
    flash(
        "The task has been given to someone else."
        if owner_id != who.member_id
        else "The task is now yours.",
        "success",
    )
    return redirect(url_for("tasks.task_detail", task_id=task.id))


@bp.route("/<int:task_id>/take", methods=["POST"])
@require(Permission.TASKS_MANAGE)
def task_take(task_id: int) -> Any:
    who, task = _load(task_id)
    try:
        services.take_task(
            who, task, version=_version(request.form.get("version")), can_see_case=can_see_case
        )
    except ValidationFailed as error:
        flash(error.message, "info")
        return redirect(url_for("tasks.queue"))
    except Conflict as error:
        session().rollback()
        fresh = services.get_task_for(who, task_id)
        return _render_task(who, fresh, problem=error.message, status=409)
    flash("The task is now on your list.", "success")
    return redirect(url_for("tasks.task_detail", task_id=task.id))


# --------------------------------------------------------------------------- notifications


@bp.route("/notifications", methods=["GET", "POST"])
@require(Permission.TASKS_READ)
def notification_settings() -> Any:
    who = actor()
    assert who.member_id is not None
    form = NotificationForm(
        formdata=request.form if request.method == "POST" else None,
        mode=notify.mode_of(who.member_id).value,
    )
    if request.method == "POST" and form.validate():
        mode = NotificationMode(form.mode.data)
        if notify.set_preference(who.member_id, mode):
            record(
                who,
                "notification_preference:changed",
                Subject("member", who.member_id),
                mode=mode.value,
            )
        flash(f"Saved: {mode.label.lower()}.", "success")
        return redirect(url_for("tasks.notification_settings"))
    status = 422 if request.method == "POST" else 200
    return render_template("tasks/notifications.html", form=form), status


# --------------------------------------------------------------------------- template


def _own_agency(who: Actor) -> Agency:
    agency = session().get(Agency, who.agency_id) if who.agency_id else None
    if agency is None:
        raise NotFound("You are not a member of an agency.")
    return agency


@bp.route("/template")
@require(Permission.TEMPLATES_MANAGE)
def template_view() -> str:
    who = actor()
    agency = _own_agency(who)
    template = services.current_template(who, agency)
    return render_template(
        "tasks/template.html",
        agency=agency,
        template=template,
        versions=services.template_versions(agency.id),
        names=services.member_names(v.created_by_id for v in services.template_versions(agency.id)),
        Trigger=Trigger,
        Priority=Priority,
        flags=catalogue.shipped().flags,
    )


def _item_input(form: TemplateItemForm) -> services.ItemInput:
    return services.ItemInput(
        title=form.title.data or "",
        due_in_working_days=form.due_in_working_days.data,
        priority=form.priority.data or "",
        priority_when_high=form.priority_when_high.data or "",
    )


def _template_conflict(error: Conflict) -> Any:
    flash(error.message, "info")
    return redirect(url_for("tasks.template_view"))


@bp.route("/template/items/new", methods=["GET", "POST"])
@require(Permission.TEMPLATES_MANAGE)
def template_item_new() -> Any:
    who = actor()
    agency = _own_agency(who)
    template = services.current_template(who, agency)
    form = TemplateItemForm(
        formdata=request.form if request.method == "POST" else None,
        due_in_working_days=5,
        priority="normal",
        priority_when_high="high",
        version=str(template.version),
    )
    if request.method == "POST" and form.validate():
        try:
            services.add_template_item(
                who, agency, base_version=_version(form.version.data) or 0, data=_item_input(form)
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            return _template_conflict(error)
        else:
            flash("The item has been added. New tasks will include it.", "success")
            return redirect(url_for("tasks.template_view"))
    status = 422 if request.method == "POST" else 200
    return render_template("tasks/template_item.html", form=form, item=None), status


@bp.route("/template/items/<key>", methods=["GET", "POST"])
@require(Permission.TEMPLATES_MANAGE)
def template_item_edit(key: str) -> Any:
    who = actor()
    agency = _own_agency(who)
    template = services.current_template(who, agency)
    item = next((i for i in template.items if i.key == key), None)
    if item is None:
        raise NotFound("That item is not in your agency's template.")
    form = TemplateItemForm(
        formdata=request.form if request.method == "POST" else None,
        title=item.title,
        due_in_working_days=item.due_in_working_days,
        priority=item.priority_rule.get("default", "normal"),
        priority_when_high=item.priority_rule.get("high", item.priority_rule.get("default")),
        version=str(template.version),
    )
    if request.method == "POST" and form.validate():
        try:
            services.update_template_item(
                who,
                agency,
                base_version=_version(form.version.data) or 0,
                key=key,
                data=_item_input(form),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            return _template_conflict(error)
        else:
            flash("The item has been changed. New tasks will use it.", "success")
            return redirect(url_for("tasks.template_view"))
    status = 422 if request.method == "POST" else 200
    return render_template("tasks/template_item.html", form=form, item=item), status


@bp.route("/template/items/<key>/remove", methods=["POST"])
@require(Permission.TEMPLATES_MANAGE)
def template_item_remove(key: str) -> Any:
    who = actor()
    agency = _own_agency(who)
    try:
        services.remove_template_item(
            who, agency, base_version=_version(request.form.get("version")) or 0, key=key
        )
    except Conflict as error:
        return _template_conflict(error)
    flash("The item has been removed. Tasks it already made stay on people's lists.", "success")
    return redirect(url_for("tasks.template_view"))


@bp.route("/template/items/<key>/move", methods=["POST"])
@require(Permission.TEMPLATES_MANAGE)
def template_item_move(key: str) -> Any:
    who = actor()
    agency = _own_agency(who)
    try:
        services.move_template_item(
            who,
            agency,
            base_version=_version(request.form.get("version")) or 0,
            key=key,
            direction=request.form.get("direction", ""),
        )
    except ValidationFailed as error:
        flash(error.message, "info")
    except Conflict as error:
        return _template_conflict(error)
    return redirect(url_for("tasks.template_view") + f"#item-{key}")


# --------------------------------------------------------------------------- wiring


def _agency_type_label(value: str) -> str:
    try:
        return AgencyType(value).label.lower()
    except ValueError:
        return value


def init_app(app: Flask) -> None:
    """Register the pages, the header counts, and the mailer."""
    app.register_blueprint(bp)
    app.add_template_filter(_agency_type_label, "agency_type_label")
    settings = app.extensions["hub.settings"]
    app.extensions.setdefault("hub.mailer", notify.Mailer.from_settings(settings))

    @app.context_processor
    def _task_counts() -> dict[str, Any]:
        cache: dict[str, tuple[int, int] | None] = {}

        def task_counts() -> tuple[int, int] | None:
            """(open, overdue) for the signed-in member; one query, only when shown."""
            if "value" not in cache:
                who = current_actor()
                if who is None or who.member_id is None or not who.can(Permission.TASKS_READ):
                    cache["value"] = None
                else:
                    cache["value"] = services.task_counts(who.member_id, today_london())
            return cache["value"]

        return {"task_counts": task_counts}
