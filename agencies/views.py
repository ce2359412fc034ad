"""Administration pages for agencies and members (hub administrator)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from agencies import services
from agencies.forms import AgencyForm, MemberForm
from agencies.models import AgencyType, MemberStatus, Sector
from hub.core.access import Permission, Role
from hub.core.errors import Conflict, ValidationFailed
from hub.core.forms import apply_errors, choices
from hub.core.requestctx import actor
from hub.core.routes import require

bp = Blueprint("agencies", __name__, template_folder="templates", url_prefix="/admin")


def _agency_data(form: AgencyForm) -> services.AgencyData:
    return services.AgencyData(
        name=form.name.data or "",
        type=AgencyType(form.type.data),
        sector=Sector(form.sector.data),
        isp_signed_on=form.isp_signed_on.data,
        isp_signed_by=form.isp_signed_by.data,
        isp_review_due_on=form.isp_review_due_on.data,
        email_domains=form.email_domains.data or "",
    )


@bp.route("/agencies")
@require(Permission.AGENCIES_READ)
def agency_list() -> str:
    who = actor()
    return render_template(
        "agencies/agency_list.html",
        agencies=services.list_agencies(who.area_id),
        can_manage=who.can(Permission.AGENCIES_MANAGE),
    )


@bp.route("/agencies/new", methods=["GET", "POST"])
@require(Permission.AGENCIES_MANAGE)
def agency_new() -> Any:
    who = actor()
    form = AgencyForm()
    if form.validate_on_submit():
        area = services.get_area(who.area_id)
        try:
            agency = services.create_agency(who, area, _agency_data(form))
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"{agency.name} has been added.", "success")
            return redirect(url_for("agencies.agency_list"))
    status = 422 if request.method == "POST" else 200
    return render_template("agencies/agency_form.html", form=form, agency=None), status


@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
@require(Permission.AGENCIES_MANAGE)
def agency_edit(agency_id: int) -> Any:
    who = actor()
    agency = services.get_agency_in_area(agency_id, who.area_id)
    form = AgencyForm(obj=agency if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            services.update_agency(who, agency, _agency_data(form))
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"{agency.name} has been updated.", "success")
            return redirect(url_for("agencies.agency_list"))
    status = 422 if request.method == "POST" else 200
    return render_template("agencies/agency_form.html", form=form, agency=agency), status


@bp.route("/agencies/<int:agency_id>/disabled", methods=["POST"])
@require(Permission.AGENCIES_MANAGE)
def agency_disable(agency_id: int) -> Any:
    who = actor()
    agency = services.get_agency_in_area(agency_id, who.area_id)
    disable = request.form.get("disabled") == "yes"
    services.set_agency_disabled(who, agency, disable)
    flash(f"{agency.name} has been {'disabled' if disable else 'enabled'}.", "success")
    return redirect(url_for("agencies.agency_list"))


def _member_form(form: MemberForm, area_id: int | None) -> MemberForm:
    form.agency_id.choices = choices(
        [(0, "Select an agency")] + [(a.id, a.name) for a in services.list_agencies(area_id)]
    )
    return form


def _member_data(form: MemberForm) -> services.MemberData:
    return services.MemberData(
        name=form.name.data or "",
        email=form.email.data or "",
        job_title=form.job_title.data or "",
        agency_id=form.agency_id.data or 0,
        roles=frozenset(Role(r) for r in (form.roles.data or [])),
    )


@bp.route("/members")
@require(Permission.MEMBERS_MANAGE)
def member_list() -> str:
    who = actor()
    agency_id = request.args.get("agency", type=int)
    members = [m for m in services.list_members(agency_id) if m.agency.area_id == who.area_id]
    return render_template(
        "agencies/member_list.html",
        members=members,
        agencies=services.list_agencies(who.area_id),
        agency_id=agency_id,
    )


@bp.route("/members/new", methods=["GET", "POST"])
@require(Permission.MEMBERS_MANAGE)
def member_new() -> Any:
    who = actor()
    form = _member_form(MemberForm(), who.area_id)
    if form.validate_on_submit():
        try:
            member = services.add_member(who, _member_data(form))
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(
                f"{member.name} has been added. Create a sign-in link and send it to them.",
                "success",
            )
            return redirect(url_for("agencies.member_edit", member_id=member.id))
    status = 422 if request.method == "POST" else 200
    return render_template("agencies/member_form.html", form=form, member=None), status


@bp.route("/members/<int:member_id>", methods=["GET", "POST"])
@require(Permission.MEMBERS_MANAGE)
def member_edit(member_id: int) -> Any:
    who = actor()
    member = services.get_member(member_id)
    if member.agency.area_id != who.area_id:
        abort(404)
    if request.method == "GET":
        form = _member_form(MemberForm(obj=member), who.area_id)
        form.roles.data = sorted(r.value for r in member.roles)
        form.version.data = str(member.version)
    else:
        form = _member_form(MemberForm(), who.area_id)
    status = 200
    if form.validate_on_submit():
        try:
            services.update_member(
                who, member, _member_data(form), version=int(form.version.data or 0)
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            form.form_errors.append(error.message)
            status = 409
        else:
            flash(f"{member.name} has been updated.", "success")
            return redirect(url_for("agencies.member_list"))
    if request.method == "POST" and status == 200:
        status = 422
    return render_template(
        "agencies/member_form.html",
        form=form,
        member=member,
        pending=member.status == MemberStatus.PENDING,
    ), status


@bp.route("/members/<int:member_id>/disabled", methods=["POST"])
@require(Permission.MEMBERS_MANAGE)
def member_disable(member_id: int) -> Any:
    who = actor()
    member = services.get_member(member_id)
    if member.agency.area_id != who.area_id:
        abort(404)
    disable = request.form.get("disabled") == "yes"
    try:
        services.set_member_disabled(who, member, disable)
    except ValidationFailed as error:
        flash(error.message, "info")
        return redirect(url_for("agencies.member_edit", member_id=member.id))
    flash(f"{member.name} has been {'disabled' if disable else 'enabled'}.", "success")
    return redirect(url_for("agencies.member_list"))
