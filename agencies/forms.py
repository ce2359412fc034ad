"""Administration forms for agencies and members."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional

from agencies.models import AgencyType, Sector
from hub.core.access import Role
from hub.core.forms import ChoiceMessageMixin, GovDateField, choices


class Select(ChoiceMessageMixin, SelectField):
    choice_message = "Select an option from the list"


class Radio(ChoiceMessageMixin, RadioField):
    choice_message = "Select one option"


class MultiSelect(ChoiceMessageMixin, SelectMultipleField):
    choice_message = "Select only options from the list"


class AgencyForm(FlaskForm):
    name = StringField(
        "Agency name",
        validators=[
            DataRequired("Enter the agency's name"),
            Length(max=160, message="Agency name must be 160 characters or fewer"),
        ],
    )
    type = Select(
        "Type of agency",
        choices=choices((t.value, t.label) for t in AgencyType),
        validators=[DataRequired("Select the type of agency")],
    )
    sector = Radio(
        "Sector",
        choices=choices((s.value, s.label) for s in Sector),
        validators=[DataRequired("Select whether the agency is statutory or voluntary sector")],
    )
    isp_signed_on = GovDateField("Date the information sharing protocol was signed")
    isp_signed_by = StringField(
        "Signed by (name and post)",
        validators=[
            Optional(),
            Length(max=160, message="Signed by must be 160 characters or fewer"),
        ],
    )
    isp_review_due_on = GovDateField("Protocol review due")
    email_domains = StringField(
        "Email domains",
        validators=[
            Optional(),
            Length(max=500, message="Email domains must be 500 characters or fewer"),
        ],
    )


class MemberForm(FlaskForm):
    name = StringField(
        "Full name",
        validators=[
            DataRequired("Enter the member's full name"),
            Length(max=160, message="Name must be 160 characters or fewer"),
        ],
    )
    email = StringField(
        "Email address",
        validators=[
            DataRequired("Enter an email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
        ],
    )
    job_title = StringField(
        "Job title",
        validators=[
            Optional(),
            Length(max=160, message="Job title must be 160 characters or fewer"),
        ],
    )
    agency_id = Select(
        "Agency", coerce=int, validators=[DataRequired("Select the member's agency")]
    )
    roles = MultiSelect(
        "Roles",
        choices=choices((r.value, r.label) for r in Role),
        validators=[DataRequired("Select at least one role")],
    )
    version = HiddenField()
