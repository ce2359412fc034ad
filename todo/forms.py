"""Forms for working a task, choosing notifications, and adapting the agency's template."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from hub.core.forms import ChoiceMessageMixin, GovDateField, WholeNumberField, choices
from todo.catalogue import MAX_OFFSET
from todo.codes import NotificationMode, Priority, TaskState


class Radio(ChoiceMessageMixin, RadioField):
    choice_message = "Select one option"


class Select(ChoiceMessageMixin, SelectField):
    choice_message = "Select an option from the list"


NOTE_TOO_LONG = "The note must be 2000 characters or fewer"
PRIORITY_CHOICES = [(p.value, p.label) for p in Priority]


class TaskUpdateForm(FlaskForm):
    state = Radio("What has happened?", choices=choices((s.value, s.label) for s in TaskState))
    note = TextAreaField(
        "Note (optional)",
        validators=[Optional(), Length(max=2000, message=NOTE_TOO_LONG)],
    )
    due_on = GovDateField("Due date")
    priority = Select("Priority", choices=choices(PRIORITY_CHOICES))
    version = HiddenField()


class ReassignForm(FlaskForm):
    owner = Select("Give the task to")
    reassign_note = TextAreaField(
        "Note for them (optional)",
        validators=[Optional(), Length(max=2000, message=NOTE_TOO_LONG)],
    )
    version = HiddenField()


class NotificationForm(FlaskForm):
    mode = Radio(
        "How should we e-mail you about your tasks?",
        choices=choices((m.value, m.label) for m in NotificationMode),
        validators=[DataRequired("Select how you want to be told")],
    )


class TemplateItemForm(FlaskForm):
    title = StringField(
        "What needs to be done",
        validators=[
            DataRequired("Enter what needs to be done"),
            Length(max=200, message="The item must be 200 characters or fewer"),
        ],
    )
    due_in_working_days = WholeNumberField(
        "Due after (working days)",
        number_message="Enter the number of working days as a whole number, like 3",
        validators=[
            InputRequired("Enter the number of working days as a whole number"),
            NumberRange(
                0, MAX_OFFSET, message=f"Enter a number of working days from 0 to {MAX_OFFSET}"
            ),
        ],
    )
    priority = Select(
        "Priority",
        choices=choices(PRIORITY_CHOICES),
        validators=[DataRequired("Select a priority")],
    )
    priority_when_high = Select(
        "Priority when the case is high risk",
        choices=choices(PRIORITY_CHOICES),
        validators=[DataRequired("Select a priority for high-risk cases")],
    )
    version = HiddenField()
