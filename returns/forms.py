"""Forms for the return's pages (GOV.UK patterns; the services validate the rules)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectField

from agencies.models import AgencyType
from hub.core.forms import ChoiceMessageMixin, choices
from returns import codes


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
