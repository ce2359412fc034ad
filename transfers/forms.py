"""Forms for the transfer pages (GOV.UK patterns; the services check the rules)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import Length

from hub.core.forms import ChoiceMessageMixin, choices
from transfers.models import TransferReason

YES_NO = [("yes", "Yes"), ("no", "No")]


class PlainForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: the CSRF token only."""


class _Radio(ChoiceMessageMixin, RadioField):  # type: ignore[misc]
    pass


class StartForm(FlaskForm):  # type: ignore[misc]
    to_area = SelectField("Which MARAC has the victim moved to?", choices=[], validate_choice=False)
    reason = _Radio(
        "Why is the case moving?",
        choices=choices((r.value, r.label) for r in TransferReason),
        validate_choice=False,
    )
    heard_here = _Radio(
        "Has this MARAC already heard the case?", choices=choices(YES_NO), validate_choice=False
    )
    agenda_circulated = _Radio(
        "Has an agenda listing the case already been circulated here?",
        choices=choices(YES_NO),
        validate_choice=False,
    )


class DeclineForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField("Why this MARAC cannot take the case", validators=[Length(max=2000)])
