"""Forms for the retention pages (GOV.UK patterns; the services validate the rules)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, TextAreaField

from hub.core.forms import ChoiceMessageMixin, GovDateField, WholeNumberField, choices
from retention.models import HoldKind, RecordClass, RetentionAction
from retention.policy import TRIGGERS, Policy, PolicyData


class _Select(ChoiceMessageMixin, SelectField):  # type: ignore[misc]
    choice_message = "Select one of the options"


class _Radios(ChoiceMessageMixin, RadioField):  # type: ignore[misc]
    choice_message = "Select why the case must be kept"


class PolicyForm(FlaskForm):  # type: ignore[misc]
    """A period, trigger and action per record class, and where the local policy comes from."""

    def to_data(self) -> PolicyData:
        return PolicyData(
            rules={
                c.value: (
                    self[f"{c.value}_months"].data,
                    str(self[f"{c.value}_trigger"].data or ""),
                    str(self[f"{c.value}_action"].data or ""),
                )
                for c in RecordClass
            },
            source=str(self.source.data or ""),
        )

    def rows(self) -> list[tuple[RecordClass, Any, Any, Any]]:
        return [
            (c, self[f"{c.value}_months"], self[f"{c.value}_trigger"], self[f"{c.value}_action"])
            for c in RecordClass
        ]


for _class in RecordClass:
    setattr(
        PolicyForm,
        f"{_class.value}_months",
        WholeNumberField("Months to keep", number_message="Enter a whole number of months"),
    )
    setattr(
        PolicyForm,
        f"{_class.value}_trigger",
        _Select(
            "The clock starts when",
            choices=choices((t.value, t.label) for t in TRIGGERS[_class]),
            validate_choice=False,  # the service says which, in the error summary
        ),
    )
    setattr(
        PolicyForm,
        f"{_class.value}_action",
        _Select(
            "At the end",
            choices=choices((a.value, a.label) for a in RetentionAction),
            validate_choice=False,
        ),
    )


# Last, so the error summary lists the periods' errors first, in the page's order.
PolicyForm.source = StringField("Where the local policy comes from")


def policy_form(found: Policy | None = None) -> PolicyForm:
    if found is None:
        return PolicyForm()
    data: dict[str, Any] = {"source": found.source}
    for record_class, rule in found.rules.items():
        data[f"{record_class.value}_months"] = rule.months
        data[f"{record_class.value}_trigger"] = rule.trigger.value
        data[f"{record_class.value}_action"] = rule.action.value
    return PolicyForm(data=data)


class PlainForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: the CSRF token only."""


class ExtendForm(FlaskForm):  # type: ignore[misc]
    until = GovDateField("Keep the records until")
    reason = TextAreaField("Why must they be kept longer?")


class HoldForm(FlaskForm):  # type: ignore[misc]
    reference = StringField("Case reference")
    kind = _Radios(
        "Why must the case be kept?",
        choices=choices((k.value, k.label) for k in HoldKind),
        validate_choice=False,  # the service checks it with the reference and the reason
    )
    reason = TextAreaField("Who asked for the hold, and why")


class LiftForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField("Why can the hold be lifted?")
