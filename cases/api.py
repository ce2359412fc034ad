"""The referrals JSON API for partner systems: create, read, list, submit; consent; checklists.

Every read passes the disclosure gate as the client's agency, exactly as a person's would,
and leaves the same ledger entries. Errors are RFC 9457 problem JSON; a 422 names each field.
A retried create with the same ``Idempotency-Key`` returns the first referral, not a second.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import request, url_for
from flask_smorest import Blueprint

from agencies.models import AgencyType
from audit.actions import LedgerAction
from cases import casefile, checklists, services
from consent import services as consent_services
from consent.categories import CASE_CATEGORIES, Article6, Article9, Category, ConsentState, Purpose
from hub.core.errors import ValidationFailed
from hub.core.inputs import MAX_ID
from hub.core.requestctx import actor
from hub.core.routes import require_scope

bp = Blueprint(
    "referrals_api",
    __name__,
    url_prefix="/api/v1",
    description="Referrals, consent and the risk checklist, through the gate.",
)

_TEXT = 8000


class StrictBoolean(ma.fields.Boolean):
    """Only true and false: marshmallow's Boolean also accepts 1, "yes" and "on"."""

    truthy = {True}
    falsy = {False}


def _text(limit: int = _TEXT, *, required: bool = False) -> ma.fields.String:
    return ma.fields.String(
        required=required,
        validate=ma.validate.Length(max=limit),
        load_default="" if not required else ma.missing,
    )


class PersonSchema(ma.Schema):
    given_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    family_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    aliases = _text(1000)
    born_on = ma.fields.Date(load_default=None)
    gender = _text(40)
    language = _text(80)
    nhs_number = _text(20)
    police_person_id = _text(40)
    ethnicity = _text(80)
    disability = ma.fields.String(
        load_default="not_known", validate=ma.validate.OneOf(["yes", "no", "not_known"])
    )
    lgbt = ma.fields.String(
        load_default="not_known", validate=ma.validate.OneOf(["yes", "no", "not_known"])
    )


class AnswerSchema(ma.Schema):
    answer = ma.fields.String(required=True, validate=ma.validate.OneOf(checklists.ANSWERS))
    source = _text(200)


class AddonAnswerSchema(ma.Schema):
    answer = ma.fields.String(required=True, validate=ma.validate.OneOf(checklists.ANSWERS))


class WhereaboutsSchema(ma.Schema):
    address = _text(1000)
    is_refuge = StrictBoolean(load_default=False)
    safe_phone = _text(40)
    safe_times = _text(200)
    safe_contact = _text(200)


class SharingSchema(ma.Schema):
    state = ma.fields.String(
        required=True, validate=ma.validate.OneOf([s.value for s in ConsentState])
    )
    referral_basis = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf([b.value for b in Article6]),
        metadata={
            "description": "The Article 6 basis the agency refers to the MARAC on; left out, "
            "its sector's usual one (police: dpa2018-part3; statutory: 6(1)(e); voluntary: "
            "6(1)(f))."
        },
    )
    evidence = _text(2000, required=True)
    rationale = _text(4000)
    basis_statutory = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf([b.value for b in Article6])
    )
    basis_voluntary = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf([b.value for b in Article6])
    )
    condition_special = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf([c.value for c in Article9])
    )
    # What consent covers when given; left out, it covers every purpose, category and kind
    # of agency of a MARAC referral.
    purposes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([p.value for p in Purpose])),
        load_default=None,
        validate=ma.validate.Length(max=len(Purpose)),
    )
    categories = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([c.value for c in CASE_CATEGORIES])),
        load_default=None,
        validate=ma.validate.Length(max=len(CASE_CATEGORIES)),
    )
    recipient_agency_types = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([t.value for t in AgencyType])),
        load_default=None,
        validate=ma.validate.Length(max=len(AgencyType)),
    )


class OtherPerpetratorSchema(PersonSchema):
    relationship = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))


class HouseholdSchema(PersonSchema):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(["child", "household"]))
    relationship = _text(120)


class ReferralInSchema(ma.Schema):
    victim = ma.fields.Nested(PersonSchema, required=True)
    perpetrator = ma.fields.Nested(PersonSchema, required=True)
    relationship = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    other_perpetrators = ma.fields.List(
        ma.fields.Nested(OtherPerpetratorSchema),
        load_default=list,
        validate=ma.validate.Length(max=5),
    )
    household = ma.fields.List(
        ma.fields.Nested(HouseholdSchema),
        load_default=list,
        validate=ma.validate.Length(max=12),
        metadata={"description": "Children and other members of the household, as people."},
    )
    children_count = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, 30))
    children = _text(4000)
    checklist = ma.fields.String(load_default=checklists.DEFAULT_CHECKLIST)
    answers = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=20)),
        values=ma.fields.Nested(AnswerSchema),
        required=True,
    )
    professional_judgement = StrictBoolean(load_default=False)
    judgement_reasons = _text(4000)
    incidents_12m = ma.fields.Integer(load_default=None, validate=ma.validate.Range(0, 500))
    downgrade = StrictBoolean(
        load_default=False,
        metadata={
            "description": "The referrer judges the case not high risk despite the Yes "
            "answers. Always refused: a MARAC never downgrades on a referrer's judgement."
        },
    )
    addon_answers = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(max=40)),
        values=ma.fields.Dict(
            keys=ma.fields.String(validate=ma.validate.Length(max=20)),
            values=ma.fields.Nested(AddonAnswerSchema),
        ),
        load_default=dict,
        metadata={"description": "Answers to the area's add-on checklists, by checklist key."},
    )
    incident = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=_TEXT))
    victim_fears = _text()
    safe_to_contact = _text()
    unsafe_to_contact = _text()
    health_notes = _text()
    reported_to_police = StrictBoolean(load_default=None, allow_none=True)
    crime_reference = _text(60)
    justice_notes = _text()
    previous_marac = _text(2000)
    victim_aware = StrictBoolean(required=True)
    victim_unaware_reason = _text(2000)
    line_manager_consulted = StrictBoolean(load_default=False)
    marac_rep_consulted = StrictBoolean(load_default=False)
    must_not_receive_names = _text(2000)
    must_not_receive_member_ids = ma.fields.List(
        ma.fields.Integer(strict=True), load_default=list, validate=ma.validate.Length(max=50)
    )
    whereabouts = ma.fields.Nested(WhereaboutsSchema, load_default=None)
    sharing = ma.fields.Nested(SharingSchema, required=True)


class ReferralOutSchema(ma.Schema):
    id = ma.fields.Integer()
    reference = ma.fields.String()
    status = ma.fields.String()


#: The most referrals a page of the API holds (and how many it holds unless asked).
API_PAGE_SIZE = 100


class PageArgsSchema(ma.Schema):
    page = ma.fields.Integer(
        load_default=1,
        validate=ma.validate.Range(min=1, max=MAX_ID),
        metadata={"description": "Which page, from 1 (the newest referrals)."},
    )
    per_page = ma.fields.Integer(
        load_default=API_PAGE_SIZE,
        validate=ma.validate.Range(min=1, max=API_PAGE_SIZE),
        metadata={"description": f"Referrals to a page, at most {API_PAGE_SIZE}."},
    )


PAGE_HEADERS = {
    "Link": {
        "description": "RFC 8288 links to the first, previous, next and last pages "
        '(rel="first", "prev", "next", "last"); no "next" on the last page.',
        "schema": {"type": "string"},
    },
    "X-Total-Count": {
        "description": "How many referrals the list holds in all.",
        "schema": {"type": "integer"},
    },
}


class CaseSchema(ma.Schema):
    reference = ma.fields.String()
    status = ma.fields.String()
    referring_agency = ma.fields.String()
    referred_on = ma.fields.String()
    flags = ma.fields.List(ma.fields.String())
    criteria = ma.fields.List(ma.fields.String())
    sections = ma.fields.Dict(
        metadata={"description": "Per data category, either its fields or {'withheld': reason}."}
    )


class ConsentOutSchema(ma.Schema):
    id = ma.fields.Integer()
    state = ma.fields.String()
    purposes = ma.fields.List(ma.fields.String())
    categories = ma.fields.List(ma.fields.String())
    recipient_agency_types = ma.fields.List(ma.fields.String())
    recorded_at = ma.fields.DateTime()
    withdrawn_at = ma.fields.DateTime(allow_none=True)


class ConsentInSchema(ma.Schema):
    state = ma.fields.String(
        required=True, validate=ma.validate.OneOf([s.value for s in ConsentState])
    )
    purposes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([p.value for p in Purpose])),
        load_default=list,
        validate=ma.validate.Length(max=len(Purpose)),
    )
    categories = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([c.value for c in CASE_CATEGORIES])),
        load_default=list,
        validate=ma.validate.Length(max=len(CASE_CATEGORIES)),
    )
    recipient_agency_types = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([t.value for t in AgencyType])),
        load_default=list,
        validate=ma.validate.Length(max=len(AgencyType)),
    )
    recipient_agency_ids = ma.fields.List(
        ma.fields.Integer(strict=True), load_default=list, validate=ma.validate.Length(max=100)
    )
    evidence = _text(2000, required=True)
    valid_until = ma.fields.AwareDateTime(load_default=None)


class QuestionSchema(ma.Schema):
    id = ma.fields.String()
    label = ma.fields.String()
    hint = ma.fields.String()


class ChecklistSchema(ma.Schema):
    key = ma.fields.String()
    name = ma.fields.String()
    version = ma.fields.String()
    source = ma.fields.String()
    answers = ma.fields.List(ma.fields.String())
    questions = ma.fields.List(ma.fields.Nested(QuestionSchema))


def _person(data: dict[str, Any], *extra: str) -> services.PersonData:
    return services.PersonData(**{k: v for k, v in data.items() if k not in extra})


def _basis(value: str | None) -> Article6 | None:
    return Article6(value) if value else None


def _referral_data(data: dict[str, Any]) -> services.ReferralData:
    """The API's one document as the parts of a referral the form's pages save."""
    sharing = data["sharing"]
    special = sharing["condition_special"]
    details = (
        "incident",
        "victim_fears",
        "safe_to_contact",
        "unsafe_to_contact",
        "health_notes",
        "reported_to_police",
        "crime_reference",
        "justice_notes",
        "previous_marac",
        "victim_aware",
        "victim_unaware_reason",
        "line_manager_consulted",
        "marac_rep_consulted",
        "must_not_receive_names",
        "must_not_receive_member_ids",
    )
    return services.ReferralData(
        victim=_person(data["victim"]),
        perpetrator=services.PerpetratorData(
            person=_person(data["perpetrator"]),
            relationship=data["relationship"],
            children=data["children"],
            children_count=data["children_count"],
            others=[
                (_person(other, "relationship"), other["relationship"])
                for other in data["other_perpetrators"]
            ],
        ),
        household=[
            services.HouseholdMember(
                person=_person(m, "role", "relationship"),
                role=services.PartyRole(m["role"]),
                relationship=m["relationship"],
            )
            for m in data["household"]
        ],
        risk=services.RiskData(
            checklist=data["checklist"],
            answers=data["answers"],
            professional_judgement=data["professional_judgement"],
            judgement_reasons=data["judgement_reasons"],
            incidents_12m=data["incidents_12m"],
            downgrade=data["downgrade"],
            addon_answers=data["addon_answers"],
        ),
        details=services.DetailsData(**{k: data[k] for k in details}),
        whereabouts=services.WhereaboutsData(**data["whereabouts"])
        if data["whereabouts"]
        else None,
        sharing=services.SharingChoice(
            state=ConsentState(sharing["state"]),
            evidence=sharing["evidence"],
            referral_basis=_basis(sharing["referral_basis"]),
            rationale=sharing["rationale"],
            basis_statutory=_basis(sharing["basis_statutory"]),
            basis_voluntary=_basis(sharing["basis_voluntary"]),
            condition_special=Article9(special) if special else None,
            purposes=None
            if sharing["purposes"] is None
            else [Purpose(p) for p in sharing["purposes"]],
            categories=None
            if sharing["categories"] is None
            else [Category(c) for c in sharing["categories"]],
            recipient_agency_types=sharing["recipient_agency_types"],
        ),
    )


@bp.route("/checklists/<key>")
@require_scope("referrals:read")
@bp.response(200, ChecklistSchema)
def checklist(key: str) -> dict[str, Any]:
    """The risk checklist definition: question ids and short paraphrased labels."""
    found = checklists.get_checklist(key)
    return {
        "key": found.key,
        "name": found.name,
        "version": found.version,
        "source": found.source,
        "answers": list(checklists.ANSWERS),
        "questions": [{"id": q.id, "label": q.label, "hint": q.hint} for q in found.questions],
    }


@bp.route("/referrals", methods=["POST"])
@require_scope("referrals:write")
@bp.arguments(ReferralInSchema)
@bp.response(201, ReferralOutSchema)
def create(data: dict[str, Any]) -> Any:
    """Create a draft referral in one call (send Idempotency-Key to make retries safe)."""
    who = actor()
    key = (request.headers.get("Idempotency-Key") or "").strip() or None
    if key is not None and len(key) > 100:
        raise ValidationFailed({"Idempotency-Key": "Keep the key to 100 characters or fewer"})
    referred = services.refer_case(who, _referral_data(data), idempotency_key=key)
    referral = referred.referral
    shown = {"id": referral.id, "reference": referral.reference, "status": referral.status}
    return (shown, 200) if referred.replayed else shown


@bp.route("/referrals/<int:referral_id>/submit", methods=["POST"])
@require_scope("referrals:write")
@bp.response(200, ReferralOutSchema)
def submit(referral_id: int) -> dict[str, Any]:
    """Send a complete draft to the MARAC coordinator."""
    who = actor()
    referral, _ = services.open_case(
        who, referral_id, [Category.IDENTITY], action=LedgerAction.REFERRAL_SUBMIT_OPENED
    )
    services.submit_referral(who, referral)
    return {"id": referral.id, "reference": referral.reference, "status": referral.status}


@bp.route("/referrals/<int:referral_id>")
@require_scope("referrals:read")
@bp.response(200, CaseSchema)
def read(referral_id: int) -> dict[str, Any]:
    """A case as the gate lets this agency see it; withheld categories say why."""
    referral, disclosure = services.open_case(
        actor(), referral_id, action=LedgerAction.CASE_API_READ
    )
    return casefile.case_view(referral, disclosure).as_json()


@bp.route("/referrals")
@require_scope("referrals:read")
@bp.arguments(PageArgsSchema, location="query", as_kwargs=True)
@bp.response(200, ReferralOutSchema(many=True), headers=PAGE_HEADERS)
def list_referrals(page: int, per_page: int) -> Any:
    """The client's own agency's referrals, newest first, a page at a time: references and
    statuses only.

    The ``Link`` header (RFC 8288) gives the first, previous, next and last pages
    (``rel="next"`` is absent on the last); ``X-Total-Count`` says how many there are in
    all. A page past the last is a 404.
    """
    listed = services.agency_referrals(actor(), page, per_page)
    window = listed.window

    def link(number: int, rel: str) -> str:
        url = url_for(
            "referrals_api.list_referrals", page=number, per_page=per_page, _external=True
        )
        return f'<{url}>; rel="{rel}"'

    links = [link(1, "first")]
    if window.previous is not None:
        links.append(link(window.previous, "prev"))
    if window.next is not None:
        links.append(link(window.next, "next"))
    links.append(link(window.pages, "last"))
    rows = [{"id": r.id, "reference": r.reference, "status": r.status} for r in listed.referrals]
    return rows, {"Link": ", ".join(links), "X-Total-Count": str(window.total)}


@bp.route("/referrals/<int:referral_id>/consents")
@require_scope("referrals:read")
@bp.response(200, ConsentOutSchema(many=True))
def consents(referral_id: int) -> list[Any]:
    """Consent records of a case the client may see (their scope, not the victim's words)."""
    referral, _ = services.open_case(
        actor(), referral_id, [Category.IDENTITY], action=LedgerAction.CONSENT_API_READ
    )
    return consent_services.consents_for(referral.id)


@bp.route("/referrals/<int:referral_id>/consents", methods=["POST"])
@require_scope("referrals:write")
@bp.arguments(ConsentInSchema)
@bp.response(201, ConsentOutSchema)
def record_consent(data: dict[str, Any], referral_id: int) -> Any:
    """Record what the victim said about sharing, with its scope (the referring agency only).

    A new record adds to the earlier ones; it applies from the next read.
    """
    who = actor()
    referral, _ = services.open_case(
        who, referral_id, [Category.IDENTITY], action=LedgerAction.CONSENT_API_OPENED
    )
    return services.add_consent(
        who,
        referral,
        consent_services.ConsentData(
            state=ConsentState(data["state"]),
            purposes=[Purpose(p) for p in data["purposes"]],
            categories=[Category(c) for c in data["categories"]],
            recipient_agency_ids=data["recipient_agency_ids"],
            recipient_agency_types=data["recipient_agency_types"],
            evidence=data["evidence"],
            valid_until=data["valid_until"],
        ),
    )


@bp.route("/referrals/<int:referral_id>/consents/<int:consent_id>/withdraw", methods=["POST"])
@require_scope("referrals:write")
@bp.response(200, ConsentOutSchema)
def withdraw_consent(referral_id: int, consent_id: int) -> Any:
    """Record that the victim withdrew a consent: every later read stops relying on it."""
    who = actor()
    referral, _ = services.open_case(
        who, referral_id, [Category.IDENTITY], action=LedgerAction.CONSENT_API_OPENED
    )
    return services.withdraw_case_consent(who, referral, consent_id)
