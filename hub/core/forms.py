"""Form helpers shared by every package: GOV.UK date inputs and error transfer."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.utils import unset_value
from wtforms.validators import ValidationError

from hub.core.errors import ValidationFailed


class GovDateField(Field):  # type: ignore[misc]  # WTForms ships no types
    """A date typed into GOV.UK's three boxes (day, month, year) named ``<name>-day`` etc."""

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        *,
        required: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(label, validators, **kwargs)
        self.required = required
        self.raw_parts: dict[str, str] = {}

    def process(self, formdata: Any, data: Any = None, extra_filters: Any = None) -> None:
        self.process_errors = []
        if data is None or data is unset_value:  # WTForms passes a marker when nothing came
            data = self.default() if callable(self.default) else self.default
        self.data = data
        self.raw_parts = {}
        if formdata is None:
            return
        parts = {
            k: (formdata.get(f"{self.name}-{k}") or "").strip() for k in ("day", "month", "year")
        }
        if not any(
            k in formdata for k in (f"{self.name}-day", f"{self.name}-month", f"{self.name}-year")
        ):
            return
        self.raw_parts = parts
        if not any(parts.values()):
            self.data = None
            return
        missing = [k for k, v in parts.items() if not v]
        if missing:
            self.process_errors.append(f"{self.label.text} must include a {' and '.join(missing)}")
            self.data = None
            return
        try:
            day, month, year = int(parts["day"]), int(parts["month"]), int(parts["year"])
            if year < 1900 or year > 2200:
                raise ValueError
            self.data = date(year, month, day)
        except ValueError:
            self.process_errors.append(f"{self.label.text} must be a real date")
            self.data = None

    def pre_validate(self, form: Any) -> None:
        if self.required and self.data is None and not self.process_errors:
            raise ValidationError(f"Enter {self.label.text.lower()}")


def apply_errors(form: FlaskForm, error: ValidationFailed) -> None:
    """Put a service's validation errors onto the form fields they name."""
    for name, message in error.errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*list(field.errors or []), message]
        else:
            form.form_errors.append(message)


class ChoiceMessageMixin:
    """Say "Select ..." rather than WTForms' "Not a valid choice"."""

    choice_message = "Select one of the options"

    def pre_validate(self, form: Any) -> None:
        try:
            super().pre_validate(form)  # type: ignore[misc]
        except ValidationError:
            raise ValidationError(self.choice_message) from None


def choices(pairs: Any) -> list[SelectChoice]:
    """Build WTForms choices from (value, label) pairs."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


class WholeNumberField(IntegerField):  # type: ignore[misc]
    """An integer box that says what to type rather than WTForms' "Not a valid integer"."""

    def __init__(
        self, *args: Any, number_message: str = "Enter a whole number, like 3", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.number_message = number_message

    def process_formdata(self, valuelist: list[str]) -> None:
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = int(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError(self.number_message) from None
