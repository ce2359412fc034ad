"""Sign-in forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class SignInForm(FlaskForm):
    email = StringField("Email address", validators=[
        DataRequired("Enter your email address"), Length(max=254, message="Email address is too long")])
    password = PasswordField("Password", validators=[
        DataRequired("Enter your password"), Length(max=256, message="Password is too long")])


class CodeForm(FlaskForm):
    code = StringField("Security code", validators=[
        DataRequired("Enter the 6-digit code from your authenticator app"),
        Length(max=12, message="Enter the 6-digit code from your authenticator app")])


class ChoosePasswordForm(FlaskForm):
    password = PasswordField("Create a password", validators=[
        DataRequired("Enter a password"), Length(max=256, message="Password is too long")])
    confirm = PasswordField("Confirm your password", validators=[
        DataRequired("Enter the password again")])

    def validate_confirm(self, field: PasswordField) -> None:
        from wtforms.validators import ValidationError

        if field.data != self.password.data:
            raise ValidationError("The passwords do not match")
