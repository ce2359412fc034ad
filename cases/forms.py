"""The referral form's pages, the triage forms, consent and the whereabouts reveal."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from agencies.models import AgencyType
from cases import checklists
from cases.services import (
    DetailsData,
    HouseholdMember,
    PartyRole,
    PerpetratorData,
    PersonData,
    ReferralData,
    RiskData,
    SharingChoice,
    WhereaboutsData,
)
from consent.categories import (
    CASE_CATEGORIES,
    STATUTORY_BASES,
    VOLUNTARY_BASES,
    Article6,
    Article9,
    Category,
    ConsentState,
    Purpose,
)
from hub.core.forms import ChoiceMessageMixin, GovDateField, WholeNumberField, choices

DIVERSITY = [("not_known", "Not known"), ("yes", "Yes"), ("no", "No")]
YES_NO = [("yes", "Yes"), ("no", "No")]


class Radio(ChoiceMessageMixin, RadioField):  # type: ignore[misc]
    choice_message = "Select one option"


class Checkboxes(ChoiceMessageMixin, SelectMultipleField):  # type: ignore[misc]
    choice_message = "Select only options from the list"


def _text(label: str, limit: int, required: str | None = None) -> StringField:
    validators: list[Any] = [DataRequired(required)] if required else [Optional()]
    validators.append(Length(max=limit, message=f"Keep this to {limit} characters or fewer"))
    return StringField(label, validators=validators)


def _area(label: str, limit: int = 8000, required: str | None = None) -> TextAreaField:
    validators: list[Any] = [DataRequired(required)] if required else [Optional()]
    validators.append(Length(max=limit, message=f"Keep this to {limit:,} characters or fewer"))
    return TextAreaField(label, validators=validators)


def _value(form: Any, name: str, default: Any = "") -> Any:
    """A field's answer, or ``default`` when the form has no such field or it is empty."""
    found = form._fields.get(name)
    return found.data if found is not None and found.data is not None else default


def _person(form: Any, prefix: str = "") -> PersonData:
    """The person whose fields carry ``prefix`` (p_, p2_, c1_, ...); absent fields are blank."""
    return PersonData(
        given_name=_value(form, prefix + "given_name"),
        family_name=_value(form, prefix + "family_name"),
        aliases=_value(form, prefix + "aliases"),
        born_on=_value(form, prefix + "born_on", None),
        gender=_value(form, prefix + "gender"),
        language=_value(form, prefix + "language"),
        nhs_number=_value(form, prefix + "nhs_number"),
        police_person_id=_value(form, prefix + "police_person_id"),
        ethnicity=_value(form, prefix + "ethnicity"),
        disability=_value(form, prefix + "disability", "not_known"),
        lgbt=_value(form, prefix + "lgbt", "not_known"),
    )


def _given(form: Any, prefix: str, names: tuple[str, ...] = ("given_name", "family_name")) -> bool:
    """Whether the person under ``prefix`` was given: any of ``names`` or a date of birth."""
    return any(_value(form, prefix + name) for name in names) or bool(
        _value(form, prefix + "born_on", None)
    )


def _basis(value: str | None) -> Article6 | None:
    return Article6(value) if value else None


class VictimForm(FlaskForm):  # type: ignore[misc]
    given_name = _text("First name", 120, "Enter the victim's first name")
    family_name = _text("Last name", 120, "Enter the victim's last name")
    aliases = _area("Other names used (one per line)", 1000)
    born_on = GovDateField("Date of birth")
    gender = _text("Gender", 40)
    language = _text("Preferred language (and whether an interpreter is needed)", 80)
    nhs_number = _text("NHS number, if known", 20)
    police_person_id = _text("Police person identifier, if known", 40)
    ethnicity = _text("Ethnicity (for equality monitoring)", 80)
    disability = Radio(
        "Does the victim have a disability?", choices=choices(DIVERSITY), default="not_known"
    )
    lgbt = Radio(
        "Does the victim identify as LGBT+?", choices=choices(DIVERSITY), default="not_known"
    )

    def to_data(self) -> ReferralData:
        return ReferralData(victim=_person(self))


class PerpetratorForm(FlaskForm):  # type: ignore[misc]
    p_given_name = _text("First name", 120, "Enter the perpetrator's first name")
    p_family_name = _text("Last name", 120, "Enter the perpetrator's last name")
    p_aliases = _area("Other names used (one per line)", 1000)
    p_born_on = GovDateField("Date of birth")
    p_gender = _text("Gender", 40)
    p_police_person_id = _text("Police person identifier, if known", 40)
    relationship = _text(
        "Relationship to the victim",
        120,
        "Say how they are connected to the victim, like ex-partner",
    )
    children_count = IntegerField(
        "Number of children in the household",
        validators=[Optional(), NumberRange(min=0, max=30, message="Enter a number from 0 to 30")],
    )
    children = _area("About the children: names, ages, schools, relationship to each party", 4000)
    p2_given_name = _text("Another perpetrator the victim fears, if any: first name", 120)
    p2_family_name = _text("Their last name", 120)
    p2_born_on = GovDateField("Their date of birth")
    p2_relationship = _text("Their relationship to the victim", 120)
    c1_given_name = _text("Child 1, if any: first name", 120)
    c1_family_name = _text("Child 1: last name", 120)
    c1_born_on = GovDateField("Child 1: date of birth")
    c2_given_name = _text("Child 2, if any: first name", 120)
    c2_family_name = _text("Child 2: last name", 120)
    c2_born_on = GovDateField("Child 2: date of birth")
    c3_given_name = _text("Child 3, if any: first name", 120)
    c3_family_name = _text("Child 3: last name", 120)
    c3_born_on = GovDateField("Child 3: date of birth")
    h1_given_name = _text("Another adult in the household, if any: first name", 120)
    h1_family_name = _text("The adult's last name", 120)
    h1_relationship = _text("Who they are to the victim, like mother", 120)

    #: The household's people on this page: field prefix and role.
    HOUSEHOLD = (
        ("c1_", PartyRole.CHILD),
        ("c2_", PartyRole.CHILD),
        ("c3_", PartyRole.CHILD),
        ("h1_", PartyRole.HOUSEHOLD),
    )

    def to_data(self) -> ReferralData:
        others = [(_person(self, "p2_"), self.p2_relationship.data or "")]
        return ReferralData(
            perpetrator=PerpetratorData(
                person=_person(self, "p_"),
                relationship=self.relationship.data or "",
                children=self.children.data or "",
                children_count=self.children_count.data,
                others=others
                if _given(self, "p2_", ("given_name", "family_name", "relationship"))
                else [],
            ),
            household=[
                HouseholdMember(
                    person=_person(self, prefix),
                    role=role,
                    relationship=_value(self, prefix + "relationship"),
                )
                for prefix, role in self.HOUSEHOLD
                if _given(self, prefix)
            ],
        )


class RiskForm(FlaskForm):  # type: ignore[misc]
    """The checklist questions are added per checklist by the view (``with_questions``)."""

    professional_judgement = BooleanField("Refer on professional judgement")
    judgement_reasons = _area("Your reasons for professional judgement", 4000)
    downgrade = BooleanField("In my judgement this case is not high risk despite the Yes answers")
    incidents_12m = IntegerField(
        "Incidents in the last 12 months",
        validators=[
            Optional(),
            NumberRange(min=0, max=500, message="Enter a number from 0 to 500"),
        ],
    )

    def to_data(self, checklist: checklists.Checklist, addons: Any = ()) -> ReferralData:
        """The answers to ``checklist`` (and the area's add-ons) this form was built with."""
        answers: dict[str, dict[str, str]] = {}
        for question in checklist.questions:
            answer = _value(self, f"q_{question.id}")
            if answer:
                entry = {"answer": answer}
                source = _value(self, f"src_{question.id}").strip()
                if source:
                    entry["source"] = source
                answers[question.id] = entry
        return ReferralData(
            risk=RiskData(
                checklist=checklist.key,
                answers=answers,
                professional_judgement=bool(self.professional_judgement.data),
                judgement_reasons=self.judgement_reasons.data or "",
                incidents_12m=self.incidents_12m.data,
                downgrade=bool(self.downgrade.data),
                addon_answers={
                    addon.key: {
                        q.id: {"answer": _value(self, f"a_{q.id}")}
                        for q in addon.questions
                        if _value(self, f"a_{q.id}")
                    }
                    for addon in addons
                },
            )
        )


class DetailsForm(FlaskForm):  # type: ignore[misc]
    incident = _area(
        "The current incident: what happened, when, where, any injuries",
        required="Describe the current incident: what happened, when and where",
    )
    victim_fears = _area("Who the victim fears")
    safe_to_contact = _area("Who is safe to talk to")
    unsafe_to_contact = _area("Who is not safe to talk to")
    must_not_receive_names = _area(
        "People who must never be told about this referral (one per line)", 2000
    )
    must_not_receive_member_ids = Checkboxes(
        "Tick anyone who uses the hub and must never see this case, nor learn it exists",
        coerce=int,
        choices=[],
    )
    health_notes = _area("Injuries and health needs (physical, mental, substance use, pregnancy)")
    reported_to_police = Radio(
        "Has the incident been reported to the police?",
        choices=choices([*YES_NO, ("unknown", "Not known")]),
        default="unknown",
    )
    crime_reference = _text("Crime reference number", 60)
    justice_notes = _area("Bail, orders and court dates")
    previous_marac = _area("Any previous MARAC, where and when", 2000)
    victim_aware = Radio(
        "Does the victim know about this referral?",
        choices=choices(YES_NO),
        validators=[InputRequired("Say whether the victim knows about this referral")],
    )
    victim_unaware_reason = _area("Why the victim has not been told", 2000)
    line_manager_consulted = BooleanField("I have discussed this referral with my line manager")
    marac_rep_consulted = BooleanField("I have discussed it with my agency's MARAC representative")

    def to_data(self) -> ReferralData:
        police = self.reported_to_police.data
        aware = self.victim_aware.data
        return ReferralData(
            details=DetailsData(
                incident=self.incident.data or "",
                victim_fears=self.victim_fears.data or "",
                safe_to_contact=self.safe_to_contact.data or "",
                unsafe_to_contact=self.unsafe_to_contact.data or "",
                health_notes=self.health_notes.data or "",
                reported_to_police=None if police in (None, "unknown") else police == "yes",
                crime_reference=self.crime_reference.data or "",
                justice_notes=self.justice_notes.data or "",
                previous_marac=self.previous_marac.data or "",
                victim_aware=None if aware is None else aware == "yes",
                victim_unaware_reason=self.victim_unaware_reason.data or "",
                line_manager_consulted=bool(self.line_manager_consulted.data),
                marac_rep_consulted=bool(self.marac_rep_consulted.data),
                must_not_receive_names=self.must_not_receive_names.data or "",
                must_not_receive_member_ids=list(self.must_not_receive_member_ids.data or []),
            )
        )


class WhereaboutsForm(FlaskForm):  # type: ignore[misc]
    address = _area("Current address", 1000)
    is_refuge = BooleanField("This is a refuge")
    safe_phone = _text("Safe phone number", 40)
    safe_times = _text("Safe times to call", 200)
    safe_contact = _text("Someone safe to contact instead", 200)

    def to_data(self) -> ReferralData:
        return ReferralData(
            whereabouts=WhereaboutsData(
                address=self.address.data or "",
                is_refuge=bool(self.is_refuge.data),
                safe_phone=self.safe_phone.data or "",
                safe_times=self.safe_times.data or "",
                safe_contact=self.safe_contact.data or "",
            )
        )


class SharingForm(FlaskForm):  # type: ignore[misc]
    referral_basis = Radio(
        "Your agency's lawful basis for referring to the MARAC",
        choices=[],  # by the referring agency's sector (see views); preselected
        validators=[Optional()],
    )
    state = Radio(
        "Has the victim consented to this information being shared with MARAC partners?",
        choices=choices((s.value, s.label) for s in ConsentState),
        validators=[InputRequired("Say whether the victim has consented")],
    )
    purposes = Checkboxes(
        "What did the victim agree it may be used for?",
        choices=choices((p.value, p.label) for p in Purpose),
        default=[Purpose.MARAC, Purpose.IDVA_SUPPORT],
    )
    categories = Checkboxes(
        "Which information did the victim agree may be shared?",
        choices=choices((c.value, c.label.capitalize()) for c in CASE_CATEGORIES),
        default=[c.value for c in CASE_CATEGORIES],
    )
    recipient_agency_types = Checkboxes(
        "With which kinds of agency?",
        choices=choices((t.value, t.label) for t in AgencyType),
        default=[t.value for t in AgencyType],
    )
    evidence = _area(
        "How consent was given, or why it was not sought",
        2000,
        "Say how consent was given, or why it was not sought",
    )
    rationale = _area("Why sharing without consent is necessary and proportionate", 4000)
    basis_statutory = Radio(
        "Lawful basis for statutory agencies",
        choices=choices([(b.value, b.label) for b in STATUTORY_BASES]),
        validators=[Optional()],
    )
    basis_voluntary = Radio(
        "Lawful basis for voluntary-sector agencies",
        # A voluntary-sector agency cannot rely on public task, so it is not offered.
        choices=choices([(b.value, b.label) for b in VOLUNTARY_BASES]),
        validators=[Optional()],
    )
    condition_special = Radio(
        "Condition for health, criminal justice and equality information",
        choices=choices((c.value, c.label) for c in Article9),
        validators=[Optional()],
    )

    def to_data(self) -> ReferralData:
        special = self.condition_special.data
        return ReferralData(
            sharing=SharingChoice(
                state=ConsentState(self.state.data),
                evidence=self.evidence.data or "",
                rationale=self.rationale.data or "",
                basis_statutory=_basis(self.basis_statutory.data),
                basis_voluntary=_basis(self.basis_voluntary.data),
                condition_special=Article9(special) if special else None,
                purposes=[Purpose(p) for p in self.purposes.data or []],
                categories=[Category(c) for c in self.categories.data or []],
                recipient_agency_types=list(self.recipient_agency_types.data or []),
                referral_basis=_basis(self.referral_basis.data),
            )
        )


class ReasonForm(FlaskForm):  # type: ignore[misc]
    reason = _area("Reason", 2000, "Give a reason")


class RevealForm(FlaskForm):  # type: ignore[misc]
    reason = _area(
        "Why do you need the victim's whereabouts now?",
        2000,
        "Say why you need the victim's whereabouts",
    )


class SearchForm(FlaskForm):  # type: ignore[misc]
    class Meta:
        csrf = False

    given_name = _text("First name", 120, "Enter a first name")
    family_name = _text("Last name", 120, "Enter a last name")
    born_on = GovDateField("Date of birth")


class DecisionForm(FlaskForm):  # type: ignore[misc]
    decision = Radio(
        "Decision",
        choices=choices([("approve", "Approve sharing without consent"), ("refuse", "Refuse")]),
        validators=[InputRequired("Choose approve or refuse")],
    )
    note = _area("Note", 2000)


CATEGORY_CHOICES = choices((c.value, c.label.capitalize()) for c in CASE_CATEGORIES)


class ConsentForm(FlaskForm):  # type: ignore[misc]
    """What the victim said about sharing, after the referral: a new record with its scope."""

    class Meta:
        # Both forms share the consent page under a prefix each; CSRFProtect checks every
        # POST's token, which a prefixed form's own token field would not find.
        csrf = False

    state = Radio(
        "What did the victim say?",
        choices=choices((s.value, s.label) for s in ConsentState),
        validators=[InputRequired("Say whether the victim consented")],
    )
    purposes = Checkboxes(
        "What may the information be used for?",
        choices=choices((p.value, p.label) for p in Purpose),
    )
    categories = Checkboxes("Which information does the consent cover?", choices=CATEGORY_CHOICES)
    recipient_agency_types = Checkboxes(
        "Which kinds of agency may receive it?",
        choices=choices((t.value, t.label) for t in AgencyType),
    )
    evidence = _area(
        "How consent was given, or why it was not sought",
        2000,
        "Say how consent was given, or why it was not sought",
    )
    valid_until = GovDateField("Consent lasts until (leave blank if it has no end date)")


class WithoutConsentForm(FlaskForm):  # type: ignore[misc]
    """A request to share without consent, for someone else to approve."""

    class Meta:
        # Both forms share the consent page under a prefix each; CSRFProtect checks every
        # POST's token, which a prefixed form's own token field would not find.
        csrf = False

    rationale = _area(
        "Why is sharing without consent necessary and proportionate?",
        4000,
        "Explain why sharing without consent is necessary and proportionate",
    )
    categories = Checkboxes("Which information do you need to share?", choices=CATEGORY_CHOICES)
    recipients = Radio(
        "Who may receive it?",
        choices=choices(
            [("all", "Every MARAC partner in the area"), ("some", "Only the agencies I choose")]
        ),
        validators=[InputRequired("Say who may receive the information")],
    )
    recipient_agency_ids = Checkboxes("Agencies", coerce=int, choices=[])
    basis_statutory = Radio(
        "Lawful basis for statutory agencies",
        choices=choices([(b.value, b.label) for b in STATUTORY_BASES]),
        validators=[Optional()],
    )
    basis_voluntary = Radio(
        "Lawful basis for voluntary-sector agencies",
        # A voluntary-sector agency cannot rely on public task, so it is not offered.
        choices=choices([(b.value, b.label) for b in VOLUNTARY_BASES]),
        validators=[Optional()],
    )
    condition_special = Radio(
        "Condition for health, criminal justice and equality information",
        choices=choices((c.value, c.label) for c in Article9),
        validators=[Optional()],
    )
    expires_at = GovDateField("The decision lasts until (leave blank for the life of the case)")


class RiskSettingsForm(FlaskForm):  # type: ignore[misc]
    """The area's referral criteria and the risk checklists it offers (administrators)."""

    escalation_threshold = WholeNumberField(
        "Potential escalation: incidents in 12 months that meet the criterion",
        validators=[InputRequired("Enter a number of incidents from 1 to 20")],
    )
    band_standard_max = WholeNumberField(
        "Highest score in the standard band",
        validators=[InputRequired("Enter the highest standard score")],
    )
    band_medium_max = WholeNumberField(
        "Highest score in the medium band",
        validators=[InputRequired("Enter the highest medium score")],
    )
    high_risk_threshold = WholeNumberField(
        "Yes answers that make a case visible high risk",
        validators=[InputRequired("Enter the high-risk threshold")],
    )
    extra_checklists = Checkboxes("Checklists offered besides the SafeLives 24-question one")
