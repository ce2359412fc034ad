"""Forms for the subject access pages (GOV.UK patterns; the services check the rules)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from hub.core.forms import ChoiceMessageMixin, GovDateField, choices
from subject_access.models import Exemption


class PlainForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: the CSRF token only."""


class RequestForm(FlaskForm):  # type: ignore[misc]
    requester_name = StringField("Requester's name", validators=[Length(max=200)])
    requester_capacity = StringField(
        "If not the subject, how they act for them", validators=[Length(max=120)]
    )
    given_name = StringField("Subject's first name", validators=[Length(max=120)])
    family_name = StringField("Subject's last name", validators=[Length(max=120)])
    born_on = GovDateField("Subject's date of birth")
    received_on = GovDateField("Date the request was received")


class SubjectChoice(ChoiceMessageMixin, RadioField):  # type: ignore[misc]
    choice_message = "Select the person this request is about"


class SubjectForm(FlaskForm):  # type: ignore[misc]
    person = SubjectChoice("Which person is the subject?", choices=[], validate_choice=False)


class IdentityForm(FlaskForm):  # type: ignore[misc]
    method = TextAreaField(
        "How was the requester's identity checked?", validators=[Length(max=2000)]
    )


class ExtendForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField(
        "Why is the request complex (the requester is told within the first month)?",
        validators=[Length(max=2000)],
    )


class RefuseForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField("Why is the request refused?", validators=[Length(max=2000)])


class ReviewForm(FlaskForm):  # type: ignore[misc]
    chair = SelectField("Chair who reviewed it with you", choices=[], validate_choice=False)
    note = TextAreaField("What you and the chair decided", validators=[Length(max=2000)])


class RedactionForm(FlaskForm):  # type: ignore[misc]
    item = HiddenField()
    decision = RadioField(
        "Decision",
        choices=choices([("withhold", "Withhold"), ("release", "Release")]),
        validate_choice=False,
    )
    exemption = SelectField(
        "Exemption",
        choices=choices([("", "Select an exemption"), *((e.value, e.label) for e in Exemption)]),
        validate_choice=False,
    )
    reason = TextAreaField("Reason", validators=[Length(max=2000)])


class RestrictForm(FlaskForm):  # type: ignore[misc]
    """Restrict the processing of one of the subject's cases (UK GDPR Art. 18)."""

    case = SelectField("Case", choices=[], validate_choice=False)
    ground = RadioField(
        "On what ground does the person ask?",
        choices=[],  # the four grounds of Art. 18(1), set by the page
        validate_choice=False,
    )
    note = TextAreaField("What the person asked for", validators=[Length(max=2000)])
