"""The retention pages: the area's policy, the review queue, and legal holds.

Views are thin: parse, call one service, render. The queue and the holds name cases by
reference and dates only; a case itself opens only through the gate, on its own page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from hub.core.access import Permission
from hub.core.clock import today_london
from hub.core.errors import Conflict, ValidationFailed
from hub.core.forms import apply_errors
from hub.core.requestctx import actor
from hub.core.routes import require
from retention import policy, services
from retention.forms import ExtendForm, HoldForm, LiftForm, PlainForm, policy_form
from retention.models import RecordClass
from retention.policy import DEFAULTS

bp = Blueprint("retention", __name__, template_folder="templates")


@bp.route("/retention/policy", methods=["GET", "POST"])
@require(Permission.RETENTION_SETTINGS)
def settings() -> Any:
    who = actor()
    found = policy.policy_for(who)
    form = policy_form(found if request.method == "GET" else None)
    if request.method == "POST" and form.validate():
        try:
            adopted = policy.adopt_policy(who, form.to_data())
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(
                f"Version {adopted.version} of the retention policy has been adopted. "
                "The nightly run applies it from tonight.",
                "success",
            )
            return redirect(url_for("retention.settings"), code=303)
    return render_template("retention/settings.html", form=form, policy=found, defaults=DEFAULTS), (
        422 if request.method == "POST" else 200
    )


def _queue_page(files: bool) -> Any:
    who = actor()
    return render_template(
        "retention/queue.html",
        rows=services.queue(who, files=files),
        policy=policy.current(who.area_id or 0),
        plain=PlainForm(),
        classes=RecordClass,
        notice_days=services.NOTICE_DAYS,
        files=files,
    )


def _confirm(key: str, back: str) -> Any:
    if PlainForm().validate():
        try:
            reviews = services.confirm(actor(), key)
        except Conflict as error:
            flash(error.message, "info")
        else:
            flash(
                f"Destruction of {reviews[0].reference} confirmed: the nightly run destroys it.",
                "success",
            )
    return redirect(url_for(back), code=303)


def _extend(key: str, back: str) -> Any:
    who = actor()
    row = services.queue_row(who, key)
    form = ExtendForm()
    if request.method == "POST" and form.validate():
        try:
            services.extend(who, key, form.until.data, form.reason.data or "", today_london())
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"{row.reference} will be kept until {form.until.data:%-d %B %Y}.", "success")
            return redirect(url_for(back), code=303)
    return render_template("retention/extend.html", form=form, row=row, back=back), (
        422 if request.method == "POST" else 200
    )


@bp.route("/retention")
@require(Permission.RETENTION_MANAGE)
def queue() -> Any:
    return _queue_page(files=False)


@bp.route("/retention/<key>/confirm", methods=["POST"])
@require(Permission.RETENTION_MANAGE)
def confirm(key: str) -> Any:
    return _confirm(key, "retention.queue")


@bp.route("/retention/<key>/extend", methods=["GET", "POST"])
@require(Permission.RETENTION_MANAGE)
def extend(key: str) -> Any:
    return _extend(key, "retention.queue")


# The data protection officer's own queue: subject access files past their period. Under
# /subject-access, where nobody but the officer may go.
@bp.route("/subject-access/retention")
@require(Permission.RETENTION_FILES)
def files() -> Any:
    return _queue_page(files=True)


@bp.route("/subject-access/retention/<key>/confirm", methods=["POST"])
@require(Permission.RETENTION_FILES)
def files_confirm(key: str) -> Any:
    return _confirm(key, "retention.files")


@bp.route("/subject-access/retention/<key>/extend", methods=["GET", "POST"])
@require(Permission.RETENTION_FILES)
def files_extend(key: str) -> Any:
    return _extend(key, "retention.files")


@bp.route("/retention/holds", methods=["GET", "POST"])
@require(Permission.RETENTION_MANAGE)
def holds() -> Any:
    who = actor()
    form = HoldForm()
    if request.method == "POST" and form.validate():
        try:
            hold = services.set_hold(
                who,
                services.HoldData(
                    form.reference.data or "", form.kind.data or "", form.reason.data or ""
                ),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(
                f"Legal hold set: {hold.kind.label}. The case's retention clock has stopped.",
                "success",
            )
            return redirect(url_for("retention.holds"), code=303)
    return render_template("retention/holds.html", form=form, holds=services.holds(who)), (
        422 if request.method == "POST" else 200
    )


@bp.route("/retention/holds/<int:hold_id>/lift", methods=["GET", "POST"])
@require(Permission.RETENTION_MANAGE)
def lift(hold_id: int) -> Any:
    who = actor()
    row = services.get_hold(who, hold_id)
    form = LiftForm()
    if request.method == "POST" and form.validate():
        try:
            services.lift_hold(who, hold_id, form.reason.data or "")
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            flash(error.message, "info")
            return redirect(url_for("retention.holds"), code=303)
        else:
            flash(f"The legal hold on {row.reference} has been lifted.", "success")
            return redirect(url_for("retention.holds"), code=303)
    return render_template("retention/lift.html", form=form, row=row), (
        422 if request.method == "POST" else 200
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
