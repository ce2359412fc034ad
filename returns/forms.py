"""Forms for the return's pages (GOV.UK patterns; the services validate the rules)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from agencies.models import AgencyType
from hub.core.forms import ChoiceMessageMixin, GovDateField, WholeNumberField, choices
from returns import codes
from returns.measures import NATIONAL_MEASURES
from returns.models import RepeatDefinition, ReturnSettings
from returns.services import SettingsData


class CategorySelect(ChoiceMessageMixin, SelectField):  # type: ignore[misc]
    choice_message = "Select a category from the list"


class CategoriesForm(FlaskForm):  # type: ignore[misc]
    """Where each agency type's referrals are counted: one choice per type."""

    def to_data(self) -> dict[str, str]:
        return {kind.value: str(self[kind.value].data or "") for kind in AgencyType}


def categories_form(current: dict[AgencyType, str], **kwargs: Any) -> CategoriesForm:
    class Form(CategoriesForm):
        pass

    for kind in AgencyType:
        setattr(
            Form,
            kind.value,
            CategorySelect(
                kind.label, choices=choices(codes.CATEGORIES.items()), default=current[kind]
            ),
        )
    return Form(**kwargs)


class TenthsField(StringField):  # type: ignore[misc]
    """A figure typed to one decimal place ("14.1", "47"), kept as tenths (141, 470)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        raw = (valuelist[0] if valuelist else "").strip().rstrip("%").strip()
        self.raw = raw
        self.data = None
        if not raw:
            return
        try:
            number = Decimal(raw)
        except InvalidOperation:
            raise ValueError("Enter a number, like 14.1") from None
        if not number.is_finite() or number != round(number, 1):
            raise ValueError("Enter a number to one decimal place, like 14.1")
        self.data = int(number * 10)

    @property
    def display(self) -> str:
        """What the box shows: what was typed, or the stored figure in ordinary form."""
        if getattr(self, "raw", None) is not None:
            return str(self.raw)
        return "" if self.data is None else f"{self.data / 10:g}"


class SettingsForm(FlaskForm):  # type: ignore[misc]
    """The area's repeat definition, population and national figures."""

    repeat_definition = RadioField(
        "Which definition of a repeat case does the MARAC use?",
        choices=choices((d.value, d.label) for d in RepeatDefinition),
        validators=[InputRequired("Select the repeat definition the MARAC uses")],
    )
    female_population = WholeNumberField("Women aged 16 and over in the MARAC's area")
    population_source = StringField(
        "Where the population figure comes from", validators=[Length(max=200)]
    )
    population_year = WholeNumberField("The year the population figure is for")
    national_as_of = GovDateField("The last day of the 12 months the national figures cover")

    def to_data(self) -> SettingsData:
        return SettingsData(
            repeat_definition=str(self.repeat_definition.data or ""),
            female_population=self.female_population.data,
            population_source=str(self.population_source.data or ""),
            population_year=self.population_year.data,
            national={
                code: self[f"national_{code}"].data
                for code, _label, _unit in NATIONAL_MEASURES
                if self[f"national_{code}"].data is not None
            },
            national_as_of=self.national_as_of.data
            if isinstance(self.national_as_of.data, date)
            else None,
        )


for _code, _label, _unit in NATIONAL_MEASURES:
    setattr(
        SettingsForm,
        f"national_{_code}",
        TenthsField(f"National: {_label}" + (" (%)" if _unit == "%" else "")),
    )


def settings_form(found: ReturnSettings | None = None) -> SettingsForm:
    if found is None:
        return SettingsForm()
    data: dict[str, Any] = {
        "repeat_definition": found.repeat_definition.value,
        "female_population": found.female_population,
        "population_source": found.population_source,
        "population_year": found.population_year,
        "national_as_of": found.national_as_of,
    }
    data |= {f"national_{code}": tenths for code, tenths in (found.national or {}).items()}
    return SettingsForm(data=data)


class PlainForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: the CSRF token only."""


class SubmitForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField("Why is the correction sent?", validators=[Length(max=2000)])
