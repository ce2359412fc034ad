"""The quarterly return's pages: the quarter's meeting rows and totals, the exports, and
the agency categories.

Views are thin: they parse, call one service, and render or send. Nothing here shows a
case: the rows are counts per meeting date, and no page links to a case or a meeting's
agenda from them.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for

from hub.core.access import Permission
from hub.core.clock import today_london
from hub.core.errors import Conflict, ValidationFailed
from hub.core.forms import apply_errors
from hub.core.requestctx import actor
from hub.core.routes import require
from returns import codes, lifecycle, services
from returns.compute import Quarter
from returns.forms import PlainForm, SubmitForm, categories_form, settings_form
from returns.measures import NATIONAL_MEASURES

bp = Blueprint("returns", __name__, template_folder="templates")


def _last_complete_quarter() -> Quarter:
    return Quarter.containing(today_london()).previous


@bp.route("/returns")
@require(Permission.RETURNS_READ)
def index() -> Any:
    return redirect(url_for("returns.quarter", key=_last_complete_quarter().key), code=303)


def _quarter_page(key: str, submit_form: SubmitForm | None = None, status: int = 200) -> Any:
    who = actor()
    found = services.quarter_return(who, services.parse_quarter(key))
    return render_template(
        "returns/quarter.html",
        found=found,
        life=lifecycle.status_of(who, found.quarter, found),
        plain=PlainForm(),
        submit_form=submit_form or SubmitForm(),
        categories=codes.CATEGORIES,
        questions=[*codes.VICTIM_QUESTIONS, codes.PERPETRATOR_QUESTION],
        not_known=codes.NOT_KNOWN,
        can_manage=who.can(Permission.RETURNS_MANAGE),
        can_configure=who.can(Permission.RETURNS_SETTINGS),
    ), status


@bp.route("/returns/<key>")
@require(Permission.RETURNS_READ)
def quarter(key: str) -> Any:
    return _quarter_page(key)


@bp.route("/returns/<key>/validate", methods=["POST"])
@require(Permission.RETURNS_MANAGE)
def validate(key: str) -> Any:
    quarter = services.parse_quarter(key)
    if PlainForm().validate():
        try:
            lifecycle.validate_return(actor(), quarter)
        except (ValidationFailed, Conflict) as error:
            flash(error.message, "info")
        else:
            flash("The return has been validated. Check the warnings, then submit it.", "success")
    return redirect(url_for("returns.quarter", key=quarter.key, _anchor="status"), code=303)


@bp.route("/returns/<key>/submit", methods=["POST"])
@require(Permission.RETURNS_MANAGE)
def submit(key: str) -> Any:
    quarter = services.parse_quarter(key)
    form = SubmitForm()
    if form.validate():
        try:
            lifecycle.submit_return(actor(), quarter, form.reason.data or "")
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            flash(error.message, "info")
            return redirect(url_for("returns.quarter", key=quarter.key, _anchor="status"), 303)
        else:
            flash("The return has been submitted. Its figures are kept as sent.", "success")
            return redirect(url_for("returns.quarter", key=quarter.key, _anchor="status"), 303)
    return _quarter_page(quarter.key, form, 422)


@bp.route("/returns/<key>/dashboard")
@require(Permission.RETURNS_READ)
def dashboard(key: str) -> Any:
    quarter = services.parse_quarter(key)
    found = services.dashboard(actor(), quarter)
    return render_template("returns/dashboard.html", found=found, quarter=quarter)


@bp.route("/returns/<key>/return.csv")
@require(Permission.RETURNS_READ)
def export_csv(key: str) -> Response:
    publication = request.args.get("mode") == "publication"
    quarter = services.parse_quarter(key)
    body = services.export_csv(actor(), quarter, publication=publication)
    name = f"marac-return-{quarter.key}{'-publication' if publication else ''}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/returns/<key>/return.xlsx")
@require(Permission.RETURNS_READ)
def export_xlsx(key: str) -> Response:
    publication = request.args.get("mode") == "publication"
    quarter = services.parse_quarter(key)
    body = services.export_xlsx(actor(), quarter, publication=publication)
    name = f"marac-return-{quarter.key}{'-publication' if publication else ''}.xlsx"
    return Response(
        body, mimetype=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.route("/returns/categories", methods=["GET", "POST"])
@require(Permission.RETURNS_MANAGE)
def categories() -> Any:
    who = actor()
    current = services.categories(who)
    form = categories_form(current)
    if request.method == "POST" and form.validate():
        try:
            services.update_categories(who, form.to_data())
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("The referral categories have been saved.", "success")
            return redirect(url_for("returns.categories"), code=303)
    return render_template("returns/categories.html", form=form), (
        422 if request.method == "POST" else 200
    )


@bp.route("/returns/settings", methods=["GET", "POST"])
@require(Permission.RETURNS_SETTINGS)
def settings() -> Any:
    who = actor()
    form = settings_form(services.settings(who) if request.method == "GET" else None)
    if request.method == "POST" and form.validate():
        try:
            services.update_settings(who, form.to_data())
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("The return's settings have been saved.", "success")
            return redirect(url_for("returns.settings"), code=303)
    return render_template(
        "returns/settings.html",
        form=form,
        national=[form[f"national_{code}"] for code, _label, _unit in NATIONAL_MEASURES],
    ), (422 if request.method == "POST" else 200)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
