"""To-do pages: my list, the agency's queue, a case's tasks, overdue tasks, one task, the
agency's template, and notification settings.

Thin: the services filter every list through the gate in the query and hand back presented
rows (``todo.presenter``); a task's page comes from ``services.open_task``, through the gate's
disclosure for its case. Nothing here touches a model.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from audit.actions import LedgerAction
from hub.core.access import Permission
from hub.core.clock import today_london
from hub.core.errors import Conflict, NotFound, ValidationFailed
from hub.core.forms import apply_errors, choices
from hub.core.requestctx import actor, current_actor
from hub.core.routes import require
from todo import catalogue, notify, services
from todo.codes import NotificationMode, Priority, TaskState, Trigger
from todo.forms import NotificationForm, ReassignForm, TaskUpdateForm, TemplateItemForm

bp = Blueprint("tasks", __name__, template_folder="templates", url_prefix="/tasks")


# --------------------------------------------------------------------------- lists


def _query() -> services.ListQuery:
    return services.ListQuery(
        state=request.args.get("state", "active"),
        due=request.args.get("due", "any"),
        sort=request.args.get("sort", "due"),
        page=request.args.get("page", 1, type=int) or 1,
    ).cleaned()


def _render_list(template: str, page: services.TaskPage, **extra: Any) -> str:
    return render_template(
        template,
        page=page,
        tasks=page.tasks,
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
    counts = page.counts or services.Counts(0, 0, 0)
    return _render_list(
        "tasks/my_list.html",
        page,
        queue_total=counts.queued,
        # Counted with the list: the header needs no query of its own.
        task_counts=lambda: (counts.open, counts.overdue),
    )


@bp.route("/queue")
@require(Permission.TASKS_READ)
def queue() -> str:
    return _render_list("tasks/queue.html", services.list_queue(actor(), _query()))


@bp.route("/overdue")
@require(Permission.TASKS_OVERSEE)
def overdue() -> str:
    return _render_list("tasks/overdue.html", services.list_agency_overdue(actor(), _query()))


@bp.route("/case/<int:referral_id>")
@require(Permission.TASKS_READ)
def case_tasks(referral_id: int) -> str:
    found = services.list_case_tasks(actor(), referral_id, _query())
    return _render_list(
        "tasks/case.html", found.page, referral_id=found.referral_id, reference=found.reference
    )


# --------------------------------------------------------------------------- one task


def _render_task(
    task_id: int,
    *,
    update: TaskUpdateForm | None = None,
    reassign: ReassignForm | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Any:
    who = actor()
    shown = services.open_task(who, task_id)
    task = shown.task
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
    can_change = services.can_change_task(who, shown)
    reassign.owner.choices = _owner_choices(task_id) if can_change else []
    body = render_template(
        "tasks/task.html",
        shown=shown,
        task=task,
        update=update,
        reassign=reassign,
        problem=problem,
        history=shown.history,
        names=services.names_on(shown),
        today=today_london(),
        can_change=can_change,
        State=TaskState,
    )
    return body, status


def _owner_choices(task_id: int) -> list[Any]:
    people = services.owner_choices(actor(), task_id)
    return choices(
        [("", "The agency's queue (nobody yet)")] + [(str(i), name) for i, name in people]
    )


@bp.route("/<int:task_id>")
@require(Permission.TASKS_READ)
def task_detail(task_id: int) -> Any:
    return _render_task(task_id)


def _version(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@bp.route("/<int:task_id>/update", methods=["POST"])
@require(Permission.TASKS_MANAGE)
def task_update(task_id: int) -> Any:
    who = actor()
    task = services.task_for_change(who, task_id, LedgerAction.TASK_UPDATED)
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
            return _render_task(task_id, problem=error.message, status=409)
        else:
            flash(
                "The task has been updated."
                if task.state == before
                else f"The task is now marked: {TaskState(task.state).label.lower()}.",
                "success",
            )
            return redirect(url_for("tasks.task_detail", task_id=task_id))
    return _render_task(task_id, update=form, status=422)


@bp.route("/<int:task_id>/reassign", methods=["POST"])
@require(Permission.TASKS_MANAGE)
def task_reassign(task_id: int) -> Any:
    who = actor()
    task = services.task_for_change(who, task_id, LedgerAction.TASK_REASSIGNED)
    form = ReassignForm()
    raw = request.form.get("owner", "")
    owner_id = _version(raw) if raw else None
    if raw and owner_id is None:
        form.owner.errors = ["Select someone from the list"]
        return _render_task(task_id, reassign=form, status=422)
    try:
        services.reassign_task(
            who,
            task,
            version=_version(form.version.data),
            owner_member_id=owner_id,
            note=form.reassign_note.data or "",
        )
    except ValidationFailed as error:
        if "note" in error.errors:
            error.errors["reassign_note"] = error.errors.pop("note")
        apply_errors(form, error)
        return _render_task(task_id, reassign=form, status=422)
    except Conflict as error:
        return _render_task(task_id, problem=error.message, status=409)
    if owner_id is None:
        message = "The task is back in your agency's queue."
    elif owner_id == who.member_id:
        message = "The task is now yours."
    else:
        name = services.member_names([owner_id]).get(owner_id, "them")
        message = f"The task is now with {name}."
    flash(message, "success")
    return redirect(url_for("tasks.task_detail", task_id=task_id))


@bp.route("/<int:task_id>/take", methods=["POST"])
@require(Permission.TASKS_MANAGE)
def task_take(task_id: int) -> Any:
    who = actor()
    task = services.task_for_change(who, task_id, LedgerAction.TASK_TAKEN)
    try:
        services.take_task(who, task, version=_version(request.form.get("version")))
    except ValidationFailed as error:
        flash(error.message, "info")
        return redirect(url_for("tasks.queue"))
    except Conflict as error:
        return _render_task(task_id, problem=error.message, status=409)
    flash("The task is now on your list.", "success")
    return redirect(url_for("tasks.task_detail", task_id=task_id))


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
        services.choose_notifications(who, mode)
        flash(f"Saved: {mode.label.lower()}.", "success")
        return redirect(url_for("tasks.notification_settings"))
    status = 422 if request.method == "POST" else 200
    return render_template("tasks/notifications.html", form=form), status


# --------------------------------------------------------------------------- template


@bp.route("/template")
@require(Permission.TEMPLATES_MANAGE)
def template_view() -> str:
    found = services.template_page(actor())
    return render_template(
        "tasks/template.html",
        agency=found.agency,
        template=found.template,
        versions=found.versions,
        names=found.names,
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
    agency = services.own_agency(who)
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
    agency = services.own_agency(who)
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
    agency = services.own_agency(who)
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
    agency = services.own_agency(who)
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


def init_app(app: Flask) -> None:
    """Register the pages, the header counts, and the mailer."""
    app.register_blueprint(bp)
    app.add_template_filter(services.agency_type_label, "agency_type_label")
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
                    cache["value"] = services.task_counts(who, today_london())
            return cache["value"]

        return {"task_counts": task_counts}
