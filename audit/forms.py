"""The auditor's search form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional, Regexp

from audit.actions import LedgerAction
from hub.core.forms import GovDateField, choices

_ID = [
    Optional(),
    Length(max=64, message="Identifiers are 64 characters or fewer"),
    Regexp(r"^[A-Za-z0-9_-]*$", message="Enter an identifier: letters, digits, - or _"),
]


def _label(choice: tuple[str, str]) -> str:
    return choice[1]


class LedgerSearchForm(FlaskForm):  # type: ignore[misc]  # WTForms ships no types
    class Meta:
        csrf = False  # a GET search that changes nothing

    case = StringField("Case reference", validators=_ID)
    person = StringField("Person identifier", validators=_ID)
    agency = StringField("Agency identifier", validators=_ID)
    member = StringField("Member identifier", validators=_ID)
    action = SelectField(
        "Action",
        choices=choices(
            [
                ("", "Any action"),
                *sorted(((a.value, f"{a.label} ({a.value})") for a in LedgerAction), key=_label),
            ]
        ),
        validators=[Optional()],
    )
    date_from = GovDateField("From")
    date_to = GovDateField("To (inclusive)")

    def validate_date_to(self, field: GovDateField) -> None:
        from wtforms.validators import ValidationError

        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date must be on or after the start date")
