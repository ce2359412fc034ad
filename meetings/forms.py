"""Forms for the conference pages (GOV.UK patterns; the services validate the rules)."""

from __future__ import annotations

import re
from datetime import time
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional, ValidationError

from agencies.models import Cadence
from hub.core.forms import ChoiceMessageMixin, GovDateField, choices
from meetings.codes import DISCUSSION_FIELDS, AttendanceKind, MeetingKind

TIME = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


def _id(value: object) -> int:
    """An agency id from a form: out-of-range or non-numbers become 0 (no such agency)."""
    from hub.core.inputs import bounded_id

    return bounded_id(str(value)) or 0


class TimeField(StringField):  # type: ignore[misc]  # WTForms ships no types
    """A time typed as 10:00 (or 10.00)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = (valuelist[0] if valuelist else "").strip()
        self.raw = raw
        self.data = None
        if raw:
            found = TIME.match(raw)
            if found is None:
                raise ValueError("Enter the time like 10:00")
            self.data = time(int(found.group(1)), int(found.group(2)))

    def _value(self) -> str:
        if isinstance(self.data, time):
            return self.data.strftime("%H:%M")
        return getattr(self, "raw", "") or ""


class Radio(ChoiceMessageMixin, RadioField):  # type: ignore[misc]
    pass


class Select(ChoiceMessageMixin, SelectField):  # type: ignore[misc]
    pass


class ScheduleForm(FlaskForm):  # type: ignore[misc]
    kind = Radio(
        "What kind of meeting",
        choices=choices(
            [
                (MeetingKind.SCHEDULED, "A regular series at a cadence"),
                (MeetingKind.AD_HOC, "One ad hoc meeting"),
                (MeetingKind.EMERGENCY, "An emergency meeting (no cut-off)"),
            ]
        ),
        default=MeetingKind.SCHEDULED,
    )
    first_on = GovDateField("Date of the (first) meeting", required=True)
    start_time = TimeField(
        "Start time", validators=[InputRequired("Enter the time the meeting starts, like 10:00")]
    )
    venue = StringField(
        "Where",
        validators=[
            InputRequired("Enter where the meeting is held, or 'Virtual'"),
            Length(max=200),
        ],
    )
    cadence = Select("How often", choices=choices([(c.value, c.label) for c in Cadence]))
    count = IntegerField(
        "How many meetings to schedule",
        default=6,
        validators=[Optional(), NumberRange(1, 52, "Enter a number from 1 to 52")],
    )


class AddCaseForm(FlaskForm):  # type: ignore[misc]
    reference = StringField("Case reference", validators=[Length(max=30)])
    reason = TextAreaField("Reason (needed after the cut-off)", validators=[Length(max=2000)])


class ReasonForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField("Reason", validators=[Length(max=2000)])


class CirculateForm(FlaskForm):  # type: ignore[misc]
    agency_ids = SelectMultipleField("Agencies to invite", coerce=_id, validate_choice=False)

    def validate_agency_ids(self, field: Any) -> None:
        if not field.data:
            raise ValidationError("Select the agencies to invite")


def research_form(withheld_rows: int) -> type[FlaskForm]:
    """The research form with as many held-back rows as there are, plus two empty ones."""

    class ResearchForm(FlaskForm):  # type: ignore[misc]
        version = IntegerField(validators=[Optional()])
        facts = TextAreaField(
            "Facts: what your agency's records show", validators=[Length(max=20000)]
        )
        opinions = TextAreaField(
            "Professional opinion (kept apart from the facts)", validators=[Length(max=20000)]
        )
        to_share = TextAreaField(
            "What your agency will share at the meeting", validators=[Length(max=20000)]
        )

    for number in range(withheld_rows + 2):
        setattr(
            ResearchForm,
            f"withheld_item_{number}",
            TextAreaField(f"Held but not shared ({number + 1})", validators=[Length(max=2000)]),
        )
        setattr(
            ResearchForm,
            f"withheld_reason_{number}",
            TextAreaField("Why it is not shared", validators=[Length(max=2000)]),
        )
    return ResearchForm


class AttendanceForm(FlaskForm):  # type: ignore[misc]
    kind = Radio(
        "Attendance",
        choices=choices([(k.value, k.label) for k in AttendanceKind]),
        default=AttendanceKind.PRESENT,
    )
    agency_id = SelectField("Agency", coerce=_id, validate_choice=False)
    name = StringField("Name", validators=[Length(max=160)])
    role = StringField("Role or job title", validators=[Length(max=160)])
    information_received_on = GovDateField("Date the information was received")
    confidentiality_signed = BooleanField("The observer has signed the confidentiality statement")


class DiscussionForm(FlaskForm):  # type: ignore[misc]
    informs_victim_agency_id = SelectField("Agency", coerce=_id, validate_choice=False)
    informs_victim_name = StringField("Name of the person", validators=[Length(max=160)])
    include_whereabouts = BooleanField(
        "Include the victim's whereabouts in the minutes for this case"
    )
    whereabouts_reason = TextAreaField(
        "Why the whereabouts must be in the minutes", validators=[Length(max=2000)]
    )


for _name, _label, _required in DISCUSSION_FIELDS:
    setattr(DiscussionForm, _name, TextAreaField(_label, validators=[Length(max=8000)]))


class ContributionForm(FlaskForm):  # type: ignore[misc]
    agency_id = SelectField("Agency", coerce=_id, validate_choice=False)
    text = TextAreaField("What the agency shared", validators=[Length(max=8000)])


class ActionForm(FlaskForm):  # type: ignore[misc]
    text = TextAreaField("Action", validators=[Length(max=2000)])
    owner_member_id = SelectField("Owner (agency and person)", coerce=int, validate_choice=False)
    due_on = GovDateField("Due date")


class ReviewForm(FlaskForm):  # type: ignore[misc]
    outcome = Radio(
        "Outcome",
        choices=choices(
            [
                ("done", "Done"),
                ("not_possible", "Not possible: circumstances changed"),
                ("not_done", "Not done by the agency"),
                ("open", "Still open"),
            ]
        ),
    )
    note = TextAreaField("Note", validators=[Length(max=2000)])


class AmendForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField("Why the minutes are being amended", validators=[Length(max=2000)])


class PlainForm(FlaskForm):  # type: ignore[misc]
    """A button-only form (CSRF)."""
