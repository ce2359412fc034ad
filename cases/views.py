"""Referral pages: the multi-page form, the coordinator's inbox, the case page, consent,
approvals, whereabouts reveal and search-before-create.

Views are thin: they parse a form, call one service, and render. Case content reaches a
template only through ``casefile`` from a gate decision.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from wtforms import RadioField, StringField
from wtforms.validators import Length, Optional

from agencies.models import AgencyType
from audit.actions import LedgerAction
from cases import casefile, checklists, lifecycle, services
from cases.forms import (
    ConsentForm,
    DecisionForm,
    DetailsForm,
    PerpetratorForm,
    RevealForm,
    RiskForm,
    RiskSettingsForm,
    SearchForm,
    SharingForm,
    VictimForm,
    WhereaboutsForm,
    WithoutConsentForm,
)
from consent import services as consent_services
from consent.categories import Article6, Article9, Category, ConsentState, Purpose
from hub.core.access import Permission
from hub.core.clock import end_of_day_london, now
from hub.core.errors import Conflict, HubError, ValidationFailed
from hub.core.forms import apply_errors, choices
from hub.core.inputs import bounded_id
from hub.core.paging import page_number
from hub.core.requestctx import actor
from hub.core.routes import require, require_recent_sign_in

bp = Blueprint("referrals", __name__, template_folder="templates")

#: The form's pages, in order: (slug, title).
PAGES = [
    ("victim", "The victim"),
    ("perpetrator", "The perpetrator and children"),
    ("risk", "Risk checklist"),
    ("details", "The incident and the risk picture"),
    ("whereabouts", "Where the victim is"),
    ("sharing", "Consent and lawful basis"),
]
ANSWER_CHOICES = [("yes", "Yes"), ("no", "No"), ("dont_know", "Don't know")]


def _next_page(slug: str) -> str:
    slugs = [s for s, _ in PAGES]
    index = slugs.index(slug)
    return slugs[index + 1] if index + 1 < len(slugs) else "check"


def _risk_form_class(
    checklist: checklists.Checklist, addons: list[checklists.Checklist]
) -> type[RiskForm]:
    fields: dict[str, Any] = {}
    for number, question in enumerate(checklist.questions, start=1):
        fields[f"q_{question.id}"] = RadioField(
            f"{number}. {question.label}",
            choices=choices(ANSWER_CHOICES),
            validate_choice=False,
            validators=[Optional()],
        )
        fields[f"src_{question.id}"] = StringField(
            "Source, if not the victim", validators=[Optional(), Length(max=200)]
        )
    for addon in addons:
        for number, question in enumerate(addon.questions, start=1):
            fields[f"a_{question.id}"] = RadioField(
                f"S{number}. {question.label}",
                choices=choices(ANSWER_CHOICES),
                validate_choice=False,
                validators=[Optional()],
            )
    return type("ChecklistForm", (RiskForm,), fields)


def _sent_already(referral: Any) -> Any:
    """A sent referral's form pages are closed: go to the case instead."""
    flash(f"Referral {referral.reference} has been sent and can no longer be changed.", "info")
    return redirect(url_for("referrals.case", referral_id=referral.id))


def _draft(referral_id: int) -> tuple[Any, Any]:
    return services.open_case(
        actor(), referral_id, [Category.IDENTITY], action=LedgerAction.REFERRAL_DRAFT_OPENED
    )


@bp.route("/referrals")
@require(Permission.REFERRALS_READ)
def index() -> str:
    who = actor()
    listed = services.my_referrals(who, page_number(request.args.get("page")))
    return render_template(
        "referrals/index.html",
        listed=listed,
        referrals=listed.referrals,
        can_triage=who.can(Permission.REFERRALS_TRIAGE),
        once=uuid.uuid4().hex,
    )


@bp.route("/cases")
@require(Permission.REFERRALS_READ)
def cases() -> str:
    """Every case the member may open, newest first: the way in to a case shared with them."""
    listed = services.open_cases(actor(), page_number(request.args.get("page")))
    return render_template("referrals/cases.html", listed=listed)


@bp.route("/referrals/new", methods=["POST"])
@require(Permission.REFERRALS_CREATE)
def new() -> Any:
    # The page's one-time token: a double click or a resent form opens the same draft.
    once = (request.form.get("once") or "").strip()
    key = f"web:{once}" if once.isalnum() and len(once) <= 64 else None
    referral = services.start_referral(actor(), idempotency_key=key)
    return redirect(url_for("referrals.page", referral_id=referral.id, slug="victim"))


@bp.route("/referrals/<int:referral_id>/<slug>", methods=["GET", "POST"])
@require(Permission.REFERRALS_CREATE)
def page(referral_id: int, slug: str) -> Any:
    if slug not in dict(PAGES):
        abort(404)
    who = actor()
    referral, disclosure = _draft(referral_id)
    if referral.status != "draft":
        return _sent_already(referral)
    values = casefile.draft_values(referral, disclosure)
    mains, addons = services.area_checklists(referral)
    # The referrer may switch between the main checklists the area uses (?checklist=...).
    wanted = request.args.get("checklist") or values.get("checklist")
    checklist = next((c for c in mains if c.key == wanted), mains[0])
    if values.get("checklist") and values["checklist"] != checklist.key:
        # Another checklist's answers say nothing about this one's questions.
        values = {k: v for k, v in values.items() if k != "answers"}
    form_class: Any = {
        "victim": VictimForm,
        "perpetrator": PerpetratorForm,
        "risk": _risk_form_class(checklist, addons),
        "details": DetailsForm,
        "whereabouts": WhereaboutsForm,
        "sharing": SharingForm,
    }[slug]
    if slug == "sharing":
        values = {**values, **_sharing_initial(referral.id)}
    form = form_class(data=_initial(slug, values)) if request.method == "GET" else form_class()
    if slug == "details":
        form.must_not_receive_member_ids.choices = choices(
            services.blockable_members(who, referral)
        )
    if slug == "sharing":
        bases, usual = services.referral_basis_choices(referral)
        form.referral_basis.choices = choices((b.value, b.label) for b in bases)
        if request.method == "GET" and not form.referral_basis.data:
            form.referral_basis.data = usual.value
    if request.method == "POST" and form.validate():
        try:
            _save(slug, who, referral, form, checklist, addons)
        except ValidationFailed as error:
            _apply(form, error, slug)
        else:
            if request.form.get("action") == "save_draft":
                flash(
                    f"Draft {referral.reference} saved. You can come back to it from your "
                    "referrals.",
                    "success",
                )
                return redirect(url_for("referrals.index"))
            target = _next_page(slug)
            if target == "check":
                return redirect(url_for("referrals.check", referral_id=referral.id))
            return redirect(url_for("referrals.page", referral_id=referral.id, slug=target))
    filled = casefile.whereabouts_filled(referral, disclosure) if slug == "whereabouts" else []
    return render_template(
        "referrals/page.html",
        form=form,
        slug=slug,
        title=dict(PAGES)[slug],
        referral=referral,
        pages=PAGES,
        checklist=checklist,
        checklists_offered=mains,
        addons=addons,
        filled=filled,
        article6=Article6,
        article9=Article9,
    ), (422 if request.method == "POST" else 200)


def _apply(form: Any, error: ValidationFailed, slug: str) -> None:
    if slug == "risk":
        mapped = ValidationFailed(
            {(f"q_{k}" if f"q_{k}" in form._fields else k): v for k, v in error.errors.items()}
        )
        apply_errors(form, mapped)
    elif slug == "perpetrator":
        mapped = ValidationFailed(
            {(f"p_{k}" if f"p_{k}" in form._fields else k): v for k, v in error.errors.items()}
        )
        apply_errors(form, mapped)
    else:
        apply_errors(form, error)


def _sharing_initial(referral_id: int) -> dict[str, Any]:
    """What the draft's sharing page said last time (its consent record and request)."""
    saved = consent_services.consents_for(referral_id)
    if not saved:
        return {}
    consent = saved[0]
    data: dict[str, Any] = {"state": consent.state, "evidence": consent.evidence}
    basis = services.find_referral(referral_id)
    if basis is not None and basis.referral_basis:
        data["referral_basis"] = basis.referral_basis
    if consent.state == ConsentState.GIVEN:
        data.update(
            purposes=consent.purposes,
            categories=consent.categories,
            recipient_agency_types=consent.recipient_agency_types,
        )
    requests = consent_services.decisions_for(referral_id)
    if requests:
        request_row = requests[0]
        data.update(
            rationale=request_row.rationale,
            basis_statutory=request_row.basis_statutory,
            basis_voluntary=request_row.basis_voluntary,
            condition_special=request_row.condition_special,
        )
    return data


def _initial(slug: str, values: dict[str, Any]) -> dict[str, Any]:
    data = dict(values)
    if slug == "risk":
        for qid, entry in (values.get("answers") or {}).items():
            data[f"q_{qid}"] = entry.get("answer")
            data[f"src_{qid}"] = entry.get("source", "")
        for answers in (values.get("addon_answers") or {}).values():
            for qid, entry in answers.items():
                data[f"a_{qid}"] = entry.get("answer")
    if slug == "details":
        aware = values.get("victim_aware")
        data["victim_aware"] = None if aware is None else ("yes" if aware else "no")
        police = values.get("reported_to_police")
        data["reported_to_police"] = "unknown" if police is None else ("yes" if police else "no")
    return data


def _save(slug: str, who: Any, referral: Any, form: Any, checklist: Any, addons: Any = ()) -> None:
    """Save one page of the draft: the form says what its answers mean, the service does it."""
    data = form.to_data(checklist, addons) if slug == "risk" else form.to_data()
    services.refer_case(who, data, referral=referral)


@bp.route("/referrals/<int:referral_id>/check", methods=["GET", "POST"])
@require(Permission.REFERRALS_CREATE)
def check(referral_id: int) -> Any:
    who = actor()
    referral, disclosure = services.open_case(
        who, referral_id, action=LedgerAction.REFERRAL_CHECKED
    )
    if referral.status != "draft":
        return _sent_already(referral)
    view = casefile.case_view(referral, disclosure)
    missing = services.missing_for_submission(referral)
    status = 200
    if request.method == "POST":
        try:
            services.submit_referral(who, referral)
        except ValidationFailed as error:
            missing = error.errors
            status = 422
        else:
            flash(
                f"Referral {referral.reference} has been sent to the MARAC coordinator.", "success"
            )
            return redirect(url_for("referrals.case", referral_id=referral.id))
    return render_template(
        "referrals/check.html",
        referral=referral,
        view=view,
        missing=missing,
        pages=PAGES,
        decisions=consent_services.decisions_for(referral.id),
    ), status


@bp.route("/referrals/inbox")
@require(Permission.REFERRALS_TRIAGE)
def inbox() -> str:
    who = actor()
    waiting = services.inbox(who)
    possible = services.possible_repeats(who, waiting)
    shown = services.disclose_list(who, waiting, [Category.RISK], action=LedgerAction.INBOX_LISTED)
    rows = [
        casefile.inbox_row(referral, shown[referral.id], possible_repeat=referral.id in possible)
        for referral in waiting
        if referral.id in shown
    ]
    # The rejected ones by reference and date only, as the Cases page lists cases: the page
    # says nothing of their content, so it asks no disclosure of it.
    rejected = services.recently_rejected(who)
    return render_template("referrals/inbox.html", rows=rows, rejected=rejected)


@bp.route("/referrals/<int:referral_id>/triage", methods=["POST"])
@require(Permission.REFERRALS_TRIAGE)
def triage(referral_id: int) -> Any:
    who = actor()
    referral = services.get_referral(referral_id)
    decision = request.form.get("decision", "")
    reason = (request.form.get("reason") or "").strip()
    try:
        if decision == "accept":
            services.accept_referral(who, referral, version=request.form.get("version", type=int))
        elif decision == "reject":
            services.reject_referral(who, referral, reason)
        elif decision == "defer":
            services.defer_referral(who, referral, reason)
        elif decision == "close":
            services.close_referral(who, referral, reason)
        else:
            raise ValidationFailed({"decision": "Choose accept, reject, defer or close"})
    except (ValidationFailed, Conflict) as error:
        flash(error.message, "info")
        return redirect(url_for("referrals.case", referral_id=referral_id)), 303
    flash(f"Referral {referral.reference}: {referral.status.label.lower()}.", "success")
    return redirect(url_for("referrals.inbox"))


def _case_page(referral: Any, disclosure: Any, reveal_form: Any, status: int = 200) -> Any:
    who = actor()
    view = casefile.case_view(referral, disclosure)
    # Links to a repeat's earlier referral and to a counter-allegation's pair tell the risk
    # story: shown with risk, like the tags.
    risk = disclosure.allows(Category.RISK)
    team = services.team_choices(who, referral, disclosure.facts)
    return render_template(
        "referrals/case.html",
        view=view,
        risk_shown=risk,
        referral=referral,
        restricted_since=referral.restricted_at,
        reveal_form=reveal_form,
        is_referrer_agency=referral.referring_agency_id == who.agency_id,
        can_triage=who.can(Permission.REFERRALS_TRIAGE),
        decisions=lifecycle.decisions_from(referral.status),
        share_to=services.shareable_agencies(who, referral),
        colleagues=team.colleagues,
        purposes=list(Purpose),
        wall_candidates=team.wall_candidates,
        repeat_candidates=services.repeat_candidates(who, referral) if risk else [],
        related=services.related_cases(who, referral) if risk else [],
    ), status


@bp.route("/cases/<int:referral_id>/repeat", methods=["POST"])
@require(Permission.REFERRALS_TRIAGE)
def answer_repeat(referral_id: int) -> Any:
    who = actor()
    referral, _ = services.open_case(
        who, referral_id, [Category.IDENTITY], action=LedgerAction.REFERRAL_REPEAT_OPENED
    )
    answer = request.form.get("answer", "")
    try:
        if answer not in {"same", "different"}:
            raise ValidationFailed({"answer": "Say whether these are the same people"})
        services.answer_repeat(
            who,
            referral,
            bounded_id(request.form.get("earlier_id")) or 0,
            same_people=answer == "same",
        )
    except ValidationFailed as error:
        flash(error.message, "info")
    else:
        flash(
            f"Referral {referral.reference} is now flagged as a repeat."
            if answer == "same"
            else "Recorded: not the same people. The hub will not suggest that match again.",
            "success",
        )
    return redirect(url_for("referrals.case", referral_id=referral_id)), 303


@bp.route("/cases/<int:referral_id>/primary-aggressor", methods=["POST"])
@require(Permission.REFERRALS_TRIAGE)
def primary_aggressor(referral_id: int) -> Any:
    who = actor()
    referral, _ = services.open_case(
        who, referral_id, [Category.RISK], action=LedgerAction.REFERRAL_AGGRESSOR_OPENED
    )
    try:
        services.note_primary_aggressor(who, referral, request.form.get("note") or "")
    except ValidationFailed as error:
        flash(error.message, "info")
    else:
        flash("The primary-aggressor note has been saved.", "success")
    return redirect(url_for("referrals.case", referral_id=referral_id)), 303


@bp.route("/cases/<int:referral_id>", methods=["GET"])
@require(Permission.REFERRALS_READ)
def case(referral_id: int) -> Any:
    referral, disclosure = services.open_case(actor(), referral_id)
    return _case_page(referral, disclosure, RevealForm())


@bp.route("/cases/<int:referral_id>/whereabouts", methods=["POST"])
@require(Permission.WHEREABOUTS_REVEAL)
@require_recent_sign_in()
def reveal(referral_id: int) -> Any:
    who = actor()
    form = RevealForm()
    if not form.validate():
        referral, disclosure = services.open_case(who, referral_id)
        return _case_page(referral, disclosure, form, 422)
    referral, disclosure = services.open_case(who, referral_id, reveal_reason=form.reason.data)
    status = 200
    if not disclosure.allows(Category.WHEREABOUTS):
        form.reason.errors = [disclosure.decisions[Category.WHEREABOUTS].message]
        status = 422
    return _case_page(referral, disclosure, form, status)


def _consent_page(
    referral: Any,
    disclosure: Any,
    consent_form: ConsentForm,
    decision_form: WithoutConsentForm,
    status: int = 200,
) -> Any:
    who = actor()
    agencies = services.area_agencies(referral)
    decision_form.recipient_agency_ids.choices = choices((a.id, a.name) for a in agencies)
    _offer_bases(decision_form, referral.id)
    own_agency = referral.referring_agency_id == who.agency_id
    return render_template(
        "referrals/consent.html",
        referral=referral,
        view=casefile.case_view(referral, disclosure),
        consents=casefile.consent_rows(
            referral, disclosure, consent_services.consents_for(referral.id)
        ),
        decisions=casefile.decision_rows(
            referral, disclosure, consent_services.decisions_for(referral.id), now()
        ),
        own_agency=own_agency,
        can_record=own_agency and who.can(Permission.CONSENT_RECORD),
        consent_form=consent_form,
        decision_form=decision_form,
        labels={
            **{s.value: s.label for s in ConsentState},
            **{b.value: b.label for b in Article6},
            **{c.value: c.label for c in Article9},
            **{c.value: c.label for c in Category},
            **{p.value: p.label for p in Purpose},
            **{t.value: t.label for t in AgencyType},
        },
        agency_names={a.id: a.name for a in agencies},
    ), status


def _offer_bases(form: WithoutConsentForm, referral_id: int) -> None:
    """Offer vital interests only where the victim could not be asked (lacks capacity, or
    asking was unsafe or impossible): someone who was asked keeps her answer."""
    if services.vital_interests_open(referral_id):
        return
    vital = {Article6.VITAL_INTERESTS.value, Article9.VITAL_INTERESTS.value}
    for field in (form.basis_statutory, form.basis_voluntary, form.condition_special):
        field.choices = [c for c in field.choices if c.value not in vital]


def _open_for_consent(referral_id: int, action: str) -> tuple[Any, Any]:
    # Consent records and requests tell the risk story: they follow the risk category.
    return services.open_case(
        actor(), referral_id, [Category.IDENTITY, Category.RISK], action=action
    )


@bp.route("/cases/<int:referral_id>/consent", methods=["GET"])
@require(Permission.REFERRALS_READ)
def consent(referral_id: int) -> Any:
    referral, disclosure = _open_for_consent(referral_id, LedgerAction.CONSENT_VIEWED)
    return _consent_page(
        referral, disclosure, ConsentForm(prefix="consent"), WithoutConsentForm(prefix="without")
    )


@bp.route("/cases/<int:referral_id>/consent", methods=["POST"])
@require(Permission.CONSENT_RECORD)
def record_consent(referral_id: int) -> Any:
    who = actor()
    referral, disclosure = _open_for_consent(referral_id, LedgerAction.CONSENT_OPENED)
    services.require_referring_agency(who, referral)
    form = ConsentForm(prefix="consent")
    if form.validate():
        until = form.valid_until.data
        try:
            services.add_consent(
                who,
                referral,
                consent_services.ConsentData(
                    state=ConsentState(form.state.data),
                    purposes=[Purpose(p) for p in form.purposes.data or []],
                    categories=[Category(c) for c in form.categories.data or []],
                    recipient_agency_ids=[],
                    recipient_agency_types=list(form.recipient_agency_types.data or []),
                    evidence=form.evidence.data or "",
                    valid_until=end_of_day_london(until) if until else None,
                ),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(
                "Consent recorded. It applies from the next time anyone opens the case.",
                "success",
            )
            return redirect(url_for("referrals.consent", referral_id=referral_id)), 303
    return _consent_page(
        referral, disclosure, form, WithoutConsentForm(formdata=None, prefix="without"), 422
    )


@bp.route("/cases/<int:referral_id>/without-consent", methods=["POST"])
@require(Permission.CONSENT_RECORD)
def ask_without_consent(referral_id: int) -> Any:
    who = actor()
    referral, disclosure = _open_for_consent(referral_id, LedgerAction.CONSENT_OPENED)
    services.require_referring_agency(who, referral)
    form = WithoutConsentForm(prefix="without")
    form.recipient_agency_ids.choices = choices(
        (a.id, a.name) for a in services.area_agencies(referral)
    )
    _offer_bases(form, referral.id)
    if form.validate():
        until = form.expires_at.data
        try:
            services.ask_to_share_without_consent(
                who,
                referral,
                consent_services.DecisionData(
                    rationale=form.rationale.data or "",
                    categories=[Category(c) for c in form.categories.data or []],
                    all_partners=form.recipients.data == "all",
                    recipient_agency_ids=list(form.recipient_agency_ids.data or []),
                    basis_statutory=Article6(form.basis_statutory.data)
                    if form.basis_statutory.data
                    else None,
                    basis_voluntary=Article6(form.basis_voluntary.data)
                    if form.basis_voluntary.data
                    else None,
                    condition_special=Article9(form.condition_special.data)
                    if form.condition_special.data
                    else None,
                    expires_at=end_of_day_london(until) if until else None,
                ),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(
                "Your request has been sent for approval. Nothing is shared without consent "
                "until a MARAC representative or manager approves it.",
                "success",
            )
            return redirect(url_for("referrals.consent", referral_id=referral_id)), 303
    return _consent_page(
        referral, disclosure, ConsentForm(formdata=None, prefix="consent"), form, 422
    )


@bp.route("/cases/<int:referral_id>/consent/<int:consent_id>/withdraw", methods=["POST"])
@require(Permission.CONSENT_RECORD)
def withdraw(referral_id: int, consent_id: int) -> Any:
    who = actor()
    referral, _ = services.open_case(
        who, referral_id, [Category.IDENTITY], action=LedgerAction.CONSENT_OPENED
    )
    try:
        services.withdraw_case_consent(who, referral, consent_id)
    except ValidationFailed as error:
        flash(error.message, "info")
    else:
        flash("Consent withdrawn. It no longer permits any sharing.", "success")
    return redirect(url_for("referrals.consent", referral_id=referral_id))


@bp.route("/approvals", methods=["GET"])
@require(Permission.CONSENT_APPROVE)
def approvals() -> str:
    who = actor()
    waiting = services.approvals_for(who)
    shown = services.disclose_list(
        who, [r for r, _ in waiting], [Category.RISK], action=LedgerAction.APPROVALS_LISTED
    )
    moment = now()
    rows = [
        (
            referral.reference,
            referral.id,
            casefile.decision_rows(referral, shown[referral.id], ds, moment),
        )
        for referral, ds in waiting
        if referral.id in shown
    ]
    return render_template("referrals/approvals.html", rows=rows, form=DecisionForm())


@bp.route("/approvals/<int:decision_id>", methods=["POST"])
@require(Permission.CONSENT_APPROVE)
@require_recent_sign_in()
def decide(decision_id: int) -> Any:
    who = actor()
    form = DecisionForm()
    if form.validate():
        try:
            services.decide_sharing(
                who, decision_id, approve=form.decision.data == "approve", note=form.note.data or ""
            )
        except (ValidationFailed, HubError) as error:
            flash(error.message, "info")
        else:
            flash("Your decision has been recorded.", "success")
            return redirect(url_for("referrals.approvals"))
    else:
        flash("Choose approve or refuse.", "info")
    return redirect(url_for("referrals.approvals")), 303


@bp.route("/cases/<int:referral_id>/share", methods=["POST"])
@require(Permission.REFERRALS_READ)
def share(referral_id: int) -> Any:
    who = actor()
    referral, _ = services.open_case(
        who, referral_id, [Category.IDENTITY], action=LedgerAction.REFERRAL_SHARE_OPENED
    )
    try:
        agency_id = bounded_id(request.form.get("agency_id")) or 0
        purpose = Purpose(request.form.get("purpose", Purpose.MARAC))
        if request.form.get("confirmed") != "yes":
            # Beyond what consent or an approved decision covers: say so, and ask first.
            preview = services.share_preview(who, referral, agency_id, purpose)
            if preview.withheld:
                return render_template(
                    "referrals/share_confirm.html",
                    referral_id=referral_id,
                    reference=referral.reference,
                    preview=preview,
                    purpose=purpose,
                ), 200
        services.share_case(who, referral, agency_id, purpose)
    except (ValidationFailed, ValueError, HubError) as error:
        flash(getattr(error, "message", "Choose an agency and a purpose."), "info")
    else:
        flash("The case has been shared.", "success")
    return redirect(url_for("referrals.case", referral_id=referral_id)), 303


@bp.route("/cases/<int:referral_id>/team", methods=["POST"])
@require(Permission.REFERRALS_READ)
def team(referral_id: int) -> Any:
    who = actor()
    referral, _ = services.open_case(
        who, referral_id, [Category.IDENTITY], action=LedgerAction.CASE_TEAM_OPENED
    )
    try:
        services.add_to_team(who, referral, bounded_id(request.form.get("member_id")) or 0)
    except HubError as error:
        flash(error.message, "info")
    else:
        flash("Your colleague has been added to the case team.", "success")
    return redirect(url_for("referrals.case", referral_id=referral_id)), 303


@bp.route("/cases/<int:referral_id>/wall", methods=["POST"])
@require(Permission.REFERRALS_READ)
def wall(referral_id: int) -> Any:
    """Record that this agency also serves the perpetrator: wall off their caseworker."""
    who = actor()
    referral, _ = services.open_case(
        who, referral_id, [Category.IDENTITY], action=LedgerAction.CONFLICT_WALL_OPENED
    )
    try:
        services.add_conflict_wall(
            who,
            referral,
            perpetrator_worker_id=bounded_id(request.form.get("perpetrator_worker_id")) or 0,
            victim_worker_id=who.member_id,
        )
    except HubError as error:
        flash(error.message, "info")
    else:
        flash("The perpetrator's caseworker can no longer see this case.", "success")
    return redirect(url_for("referrals.case", referral_id=referral_id)), 303


@bp.route("/referrals/search", methods=["GET"])
@require(Permission.REFERRALS_CREATE)
def search() -> Any:
    form = SearchForm(request.args)
    hits = None
    status = 200
    if request.args:
        if form.validate():
            try:
                hits = services.search_before_create(
                    actor(),
                    given_name=form.given_name.data or "",
                    family_name=form.family_name.data or "",
                    born_on=form.born_on.data,
                )
            except ValidationFailed as error:
                apply_errors(form, error)
                status = 422
        else:
            status = 422
    return render_template("referrals/search.html", form=form, hits=hits), status


@bp.route("/admin/risk-settings", methods=["GET", "POST"])
@require(Permission.AGENCIES_MANAGE)
def risk_settings() -> Any:
    """The area's thresholds, bands and risk checklists, for the hub administrator."""
    who = actor()
    area, optional = services.risk_settings(who)
    if request.method == "GET":
        form = RiskSettingsForm(
            data={
                "escalation_threshold": area.escalation_threshold,
                "band_standard_max": area.band_standard_max,
                "band_medium_max": area.band_medium_max,
                "high_risk_threshold": area.high_risk_threshold,
                "extra_checklists": list(area.extra_checklists or []),
            }
        )
    else:
        form = RiskSettingsForm()
    form.extra_checklists.choices = choices(
        (c.key, f"{c.name} ({'add-on' if c.is_addon else 'main checklist'})") for c in optional
    )
    if request.method == "POST" and form.validate():
        try:
            services.update_risk_settings(
                who,
                services.AreaRiskSettings(
                    escalation_threshold=form.escalation_threshold.data,
                    band_standard_max=form.band_standard_max.data,
                    band_medium_max=form.band_medium_max.data,
                    high_risk_threshold=form.high_risk_threshold.data,
                    extra_checklists=list(form.extra_checklists.data or []),
                ),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash("The area's risk settings have been saved. New referrals use them.", "success")
            return redirect(url_for("referrals.risk_settings")), 303
    return render_template("referrals/risk_settings.html", form=form, area=area), (
        422 if request.method == "POST" else 200
    )
