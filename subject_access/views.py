"""The data protection officer's subject access pages: requests, the bundle, the PDF.

Views are thin: parse, call one service, render. Only the officer (Permission.SUBJECT_ACCESS)
reaches any of them; case content reaches the bundle page only through the gate.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for

from hub.core.access import Permission
from hub.core.clock import today_london
from hub.core.errors import Conflict, ValidationFailed
from hub.core.forms import apply_errors, choices
from hub.core.inputs import MAX_ID
from hub.core.requestctx import actor
from hub.core.routes import require
from subject_access import services
from subject_access.forms import (
    ExtendForm,
    IdentityForm,
    PlainForm,
    RedactionForm,
    RefuseForm,
    RequestForm,
    RestrictForm,
    ReviewForm,
    SubjectForm,
)
from subject_access.models import Exemption, RequestStatus

bp = Blueprint("subject_access", __name__, template_folder="templates")


@bp.route("/subject-access")
@require(Permission.SUBJECT_ACCESS)
def index() -> Any:
    return render_template(
        "subject_access/index.html", requests=services.list_requests(actor()), today=today_london()
    )


@bp.route("/subject-access/new", methods=["GET", "POST"])
@require(Permission.SUBJECT_ACCESS)
def new() -> Any:
    form = RequestForm()
    if request.method == "POST" and form.validate():
        try:
            found = services.receive_request(
                actor(),
                services.RequestData(
                    form.requester_name.data or "",
                    form.requester_capacity.data or "",
                    form.given_name.data or "",
                    form.family_name.data or "",
                    form.born_on.data,
                    form.received_on.data,
                ),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            due = found.due_on.strftime("%d %B %Y").lstrip("0")
            flash(f"Request SAR-{found.id} recorded. It is due on {due}.", "success")
            return redirect(url_for("subject_access.show", request_id=found.id), code=303)
    return render_template("subject_access/new.html", form=form), (
        422 if request.method == "POST" else 200
    )


def _page(request_id: int, status: int = 200, **forms: Any) -> Any:
    who = actor()
    found = services.get_request(who, request_id)
    candidates = services.candidates(who, found) if found.status is RequestStatus.RECEIVED else []
    subject_form = forms.get("subject_form") or SubjectForm()
    subject_form.person.choices = choices((str(c.person_id), c.name) for c in candidates)
    review_form = forms.get("review_form") or ReviewForm()
    review_form.chair.choices = choices(
        [("", "Select the chair"), *((str(m.id), m.name) for m in services.area_chairs(who, found))]
    )
    restrictable = services.restrictable_cases(who, found)
    restrict_form = forms.get("restrict_form") or RestrictForm()
    restrict_form.ground.choices = choices(services.restriction_grounds())
    restrict_form.case.choices = choices(
        [
            ("", "Select the case"),
            *((str(c.referral_id), c.reference) for c in restrictable if not c.restricted_on),
        ]
    )
    return render_template(
        "subject_access/request.html",
        restrictable=restrictable,
        restrict_form=restrict_form,
        found=found,
        today=today_london(),
        candidates=candidates,
        subject_form=subject_form,
        identity_form=forms.get("identity_form") or IdentityForm(),
        extend_form=forms.get("extend_form") or ExtendForm(),
        refuse_form=forms.get("refuse_form") or RefuseForm(),
        review_form=review_form,
        plain=PlainForm(),
        produce_stop=services.may_produce(found),
    ), status


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>")
@require(Permission.SUBJECT_ACCESS)
def show(request_id: int) -> Any:
    return _page(request_id)


def _act(request_id: int, name: str, form: Any, act: Any, done: str) -> Any:
    if form.validate():
        try:
            act(services.get_request(actor(), request_id))
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            flash(error.message, "info")
            return redirect(url_for("subject_access.show", request_id=request_id), code=303)
        else:
            flash(done, "success")
            return redirect(url_for("subject_access.show", request_id=request_id), code=303)
    return _page(request_id, 422, **{name: form})


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/subject", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def subject(request_id: int) -> Any:
    form = SubjectForm()
    raw = form.person.data or ""
    person = int(raw) if raw.isdigit() and int(raw) <= MAX_ID else None
    return _act(
        request_id,
        "subject_form",
        form,
        lambda found: services.choose_subject(actor(), found, person),
        "The subject has been chosen.",
    )


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/identity", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def identity(request_id: int) -> Any:
    form = IdentityForm()
    return _act(
        request_id,
        "identity_form",
        form,
        lambda found: services.check_identity(actor(), found, form.method.data or ""),
        "The identity check has been recorded.",
    )


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/extend", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def extend(request_id: int) -> Any:
    form = ExtendForm()
    return _act(
        request_id,
        "extend_form",
        form,
        lambda found: services.extend(actor(), found, form.reason.data or ""),
        "The request has been extended by two months. Tell the requester why.",
    )


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/refuse", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def refuse(request_id: int) -> Any:
    form = RefuseForm()
    return _act(
        request_id,
        "refuse_form",
        form,
        lambda found: services.refuse(actor(), found, form.reason.data or ""),
        "The request has been refused.",
    )


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/review", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def review(request_id: int) -> Any:
    return _act(
        request_id,
        "plain",
        PlainForm(),
        lambda found: services.start_review(actor(), found),
        "The review has started.",
    )


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/perpetrator-review", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def perpetrator_review(request_id: int) -> Any:
    form = ReviewForm()
    raw = form.chair.data or ""
    chair = int(raw) if raw.isdigit() and int(raw) <= MAX_ID else None
    return _act(
        request_id,
        "review_form",
        form,
        lambda found: services.review_perpetrator_request(
            actor(), found, chair, form.note.data or ""
        ),
        "The review with the chair has been recorded.",
    )


def _bundle_page(request_id: int, form: RedactionForm | None = None, status: int = 200) -> Any:
    who = actor()
    found = services.get_request(who, request_id)
    return render_template(
        "subject_access/bundle.html",
        found=found,
        bundle=services.build(who, found),
        form=form or RedactionForm(),
        exemptions=list(Exemption),
        editable=found.status is RequestStatus.IN_REVIEW,
        produce_stop=services.may_produce(found),
    ), status


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/bundle")
@require(Permission.SUBJECT_ACCESS)
def bundle(request_id: int) -> Any:
    return _bundle_page(request_id)


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/redactions", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def redact(request_id: int) -> Any:
    form = RedactionForm()
    if form.validate():
        try:
            services.decide_redaction(
                actor(),
                services.get_request(actor(), request_id),
                form.item.data or "",
                withhold=form.decision.data != "release",
                exemption=form.exemption.data or "",
                reason=form.reason.data or "",
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            flash(error.message, "info")
            return redirect(url_for("subject_access.bundle", request_id=request_id), code=303)
        else:
            flash("The decision has been recorded.", "success")
            return redirect(
                url_for("subject_access.bundle", request_id=request_id, _anchor=form.item.data),
                code=303,
            )
    return _bundle_page(request_id, form, 422)


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/response.pdf")
@require(Permission.SUBJECT_ACCESS)
def response_pdf(request_id: int) -> Any:
    who = actor()
    found = services.get_request(who, request_id)
    try:
        data = services.produce_pdf(who, found, request.host_url)
    except Conflict as error:
        flash(error.message, "info")
        return redirect(url_for("subject_access.show", request_id=request_id), code=303)
    return Response(
        data,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="SAR-{found.id}.pdf"'},
    )


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/sent", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def sent(request_id: int) -> Any:
    return _act(
        request_id,
        "plain",
        PlainForm(),
        lambda found: services.mark_sent(actor(), found),
        "The response has been marked as sent.",
    )


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/restrict", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def restrict(request_id: int) -> Any:
    form = RestrictForm()
    raw = form.case.data or ""
    case = int(raw) if raw.isdigit() and int(raw) <= MAX_ID else 0
    return _act(
        request_id,
        "restrict_form",
        form,
        lambda found: services.restrict_case(
            actor(), found, case, form.ground.data or "", form.note.data or ""
        ),
        "Processing of the case is restricted: only the coordinator and you can see it now.",
    )


@bp.route(f"/subject-access/<int(max={MAX_ID}):request_id>/lift/<int:case_id>", methods=["POST"])
@require(Permission.SUBJECT_ACCESS)
def lift_restriction(request_id: int, case_id: int) -> Any:
    return _act(
        request_id,
        "plain",
        PlainForm(),
        lambda found: services.lift_restriction(actor(), found, case_id),
        "The restriction has been lifted: the case is shared again as the gate allows.",
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
