"""Sign-in forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from hub.auth.identity import (
    API_SCOPES,
    ASSERTION_ALGORITHMS,
    ENV_NAME,
    MAPPABLE_ROLES,
    EmailVerification,
    TokenAuthMethod,
)
from hub.core.forms import ChoiceMessageMixin, choices


class SignInForm(FlaskForm):
    email = StringField(
        "Email address",
        validators=[
            DataRequired("Enter your email address"),
            Length(max=254, message="Email address is too long"),
        ],
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired("Enter your password"),
            Length(max=256, message="Password is too long"),
        ],
    )


class CodeForm(FlaskForm):
    code = StringField(
        "Security code",
        validators=[
            DataRequired("Enter the 6-digit code from your authenticator app"),
            Length(max=12, message="Enter the 6-digit code from your authenticator app"),
        ],
    )


class ChoosePasswordForm(FlaskForm):
    password = PasswordField(
        "Create a password",
        validators=[
            DataRequired("Enter a password"),
            Length(max=256, message="Password is too long"),
        ],
    )
    confirm = PasswordField(
        "Confirm your password", validators=[DataRequired("Enter the password again")]
    )

    def validate_confirm(self, field: PasswordField) -> None:
        if field.data != self.password.data:
            raise ValidationError("The passwords do not match")


class FindAgencyForm(FlaskForm):
    work_email = StringField(
        "Work email",
        validators=[
            DataRequired("Enter your work email address"),
            Length(max=254, message="Email address is too long"),
        ],
    )


class StepUpForm(FlaskForm):
    password = PasswordField(
        "Password",
        validators=[
            DataRequired("Enter your password"),
            Length(max=256, message="Password is too long"),
        ],
    )
    code = StringField(
        "Security code",
        validators=[Length(max=12, message="Enter the 6-digit code from your authenticator app")],
    )


# --- Administration: identity providers, API clients, approvals ----------------------------


class Select(ChoiceMessageMixin, SelectField):
    choice_message = "Select an option from the list"


class MultiSelect(ChoiceMessageMixin, SelectMultipleField):
    choice_message = "Select only options from the list"


class ProviderForm(FlaskForm):
    agency_id = Select("Agency", coerce=int, validators=[Optional()])
    issuer = StringField(
        "Issuer URL",
        validators=[
            DataRequired("Enter the provider's issuer URL"),
            Length(max=500, message="Issuer URL must be 500 characters or fewer"),
        ],
    )
    client_id = StringField(
        "Client ID",
        validators=[
            DataRequired("Enter the client ID the agency registered for the hub"),
            Length(max=255, message="Client ID must be 255 characters or fewer"),
        ],
    )
    token_auth_method = Select(
        "How the hub authenticates at the token endpoint",
        choices=choices((m.value, m.label) for m in TokenAuthMethod),
        default=TokenAuthMethod.CLIENT_SECRET_BASIC.value,
        validators=[DataRequired("Select how the hub authenticates at the token endpoint")],
    )
    assertion_alg = Select(
        "Signature algorithm of the hub's assertion",
        choices=choices(
            [("", "RS256, or the first the provider offers")]
            + [(a, a) for a in ASSERTION_ALGORITHMS]
        ),
        default="",
        validators=[Optional()],
    )
    client_secret_env = StringField(
        "Environment variable holding the client secret",
        validators=[
            Optional(),
            Length(max=100, message=("The variable's name must be 100 characters or fewer")),
        ],
    )
    client_secret_file = StringField(
        "Or: file holding the client secret",
        validators=[
            Optional(),
            Length(max=500, message="The path must be 500 characters or fewer"),
        ],
    )
    scopes = StringField(
        "Scopes",
        default="openid email profile",
        validators=[
            DataRequired("Enter the scopes, including openid"),
            Length(max=500, message="Scopes must be 500 characters or fewer"),
        ],
    )
    roles_claim = StringField(
        "Claim carrying roles or groups",
        validators=[
            Optional(),
            Length(max=200, message="Claim name must be 200 characters or fewer"),
        ],
    )
    role_mapping = TextAreaField(
        "Role mapping",
        validators=[
            Optional(),
            Length(max=5000, message="Role mapping must be 5000 characters or fewer"),
        ],
    )
    email_domains = StringField(
        "Email domains it may vouch for",
        validators=[
            Optional(),
            Length(max=500, message="Email domains must be 500 characters or fewer"),
        ],
    )
    email_verification = Select(
        "When is the email address trusted",
        choices=choices((m.value, m.label) for m in EmailVerification),
        default=EmailVerification.CLAIM.value,
        validators=[DataRequired("Select when the provider's email address is trusted")],
    )
    auth_params = TextAreaField(
        "Extra sign-in parameters",
        validators=[
            Optional(),
            Length(max=2000, message="Extra parameters must be 2000 characters or fewer"),
        ],
    )
    trust_role_mapping = BooleanField("Trust this provider's role mapping")
    version = HiddenField()

    mapping: dict[str, str]
    params: dict[str, str]

    def validate_auth_params(self, field: TextAreaField) -> None:
        """Read lines of ``name = value`` into ``self.params``."""
        self.params = {}
        for number, line in enumerate((field.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise ValidationError(
                    f"Line {number}: write the parameter, =, then its value, "
                    "like acr_values = AAL3_ANY"
                )
            self.params[name.strip()] = value.strip()

    def validate_client_secret_env(self, field: StringField) -> None:
        if field.data and not ENV_NAME.match(field.data.strip()):
            raise ValidationError(
                "Enter the name of an environment variable in capitals, like "
                "HUB_IDP_POLICE_SECRET, not the secret itself"
            )

    def validate_role_mapping(self, field: TextAreaField) -> None:
        """Read lines of ``claim value = role`` into ``self.mapping``."""
        self.mapping = {}
        for number, line in enumerate((field.data or "").splitlines(), start=1):
            if not line.strip():
                continue
            value, sep, role = line.rpartition("=")
            if not sep or not value.strip() or not role.strip():
                raise ValidationError(
                    f"Line {number}: write the claim value, =, then the role, "
                    "like marac-reps = marac_rep"
                )
            self.mapping[value.strip()] = role.strip().lower()


class ApiClientForm(FlaskForm):
    agency_id = Select(
        "Agency", coerce=int, validators=[DataRequired("Select the agency the system belongs to")]
    )
    name = StringField(
        "Name of the system",
        validators=[
            DataRequired("Enter a name for the system, like Police records system"),
            Length(max=160, message="Name must be 160 characters or fewer"),
        ],
    )
    client_id = StringField(
        "Client ID in its tokens",
        validators=[
            DataRequired("Enter the client ID the agency's provider puts in its tokens"),
            Length(max=255, message="Client ID must be 255 characters or fewer"),
        ],
    )
    scopes = MultiSelect(
        "What it may do",
        choices=choices((s, s) for s in API_SCOPES),
        validators=[DataRequired("Select at least one thing the system may do")],
    )


class ApprovalForm(FlaskForm):
    roles = MultiSelect(
        "Roles",
        choices=choices((r.value, r.label) for r in MAPPABLE_ROLES),
        validators=[Optional()],
    )
