"""Administration of agencies' identity providers and API clients, and approvals of newcomers."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for

from agencies import services as agencies
from hub.auth import identity, oidc, services
from hub.auth.forms import ApiClientForm, ApprovalForm, ProviderForm
from hub.core.access import Permission, Role
from hub.core.config import Settings
from hub.core.errors import Conflict, ValidationFailed
from hub.core.forms import apply_errors, choices
from hub.core.requestctx import actor
from hub.core.routes import require

bp = Blueprint("identity", __name__, template_folder="templates", url_prefix="/admin")


def _settings() -> Settings:
    return current_app.extensions["hub.settings"]  # type: ignore[no-any-return]


def _provider_data(form: ProviderForm) -> identity.ProviderData:
    return identity.ProviderData(
        issuer=form.issuer.data or "",
        client_id=form.client_id.data or "",
        client_secret_env=form.client_secret_env.data or "",
        client_secret_file=form.client_secret_file.data or "",
        scopes=form.scopes.data or "",
        roles_claim=form.roles_claim.data or "",
        role_mapping=getattr(form, "mapping", {}),
        email_domains=form.email_domains.data or "",
        trust_role_mapping=bool(form.trust_role_mapping.data),
        token_auth_method=form.token_auth_method.data or "",
        assertion_alg=form.assertion_alg.data or "",
        auth_params=getattr(form, "params", {}),
        email_verification=form.email_verification.data or "",
    )


def _uris() -> dict[str, str]:
    """What the agency's IT team registers for the hub's client."""
    base = _settings().base_url
    return {
        "callback": base + url_for("sso.callback"),
        "signed_out": base + url_for("sso.signed_out"),
        "jwks": base + url_for("auth.client_jwks"),
    }


def _agency_choices(form: Any, area_id: int | None, *, without_provider: bool = False) -> None:
    taken = {p.agency_id for p in identity.list_providers(area_id)} if without_provider else set()
    form.agency_id.choices = choices(
        [(0, "Select an agency")]
        + [(a.id, a.name) for a in agencies.list_agencies(area_id) if a.id not in taken]
    )


def _mapping_text(mapping: dict[str, str]) -> str:
    return "\n".join(f"{value} = {role}" for value, role in sorted(mapping.items()))


def _form_for(provider: identity.IdentityProvider) -> ProviderForm:
    form = ProviderForm(formdata=None, obj=provider)
    del form.agency_id  # a provider stays with its agency
    form.role_mapping.data = _mapping_text(provider.role_mapping or {})
    form.auth_params.data = _mapping_text(provider.auth_params or {})
    form.version.data = str(provider.version)
    return form


def _provider_page(
    form: ProviderForm,
    provider: identity.IdentityProvider | None,
    *,
    findings: list[oidc.Finding] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "auth/admin/provider_form.html",
        form=form,
        provider=provider,
        findings=findings,
        roles=identity.MAPPABLE_ROLES,
        uris=_uris(),
        seen=identity.claims_seen(provider.id) if provider is not None else None,
        cache_minutes=max(1, _settings().oidc_cache_seconds // 60),
    ), status


@bp.route("/identity-providers")
@require(Permission.IDP_MANAGE)
def provider_list() -> str:
    who = actor()
    return render_template(
        "auth/admin/provider_list.html", providers=identity.list_providers(who.area_id)
    )


@bp.route("/identity-providers/new", methods=["GET", "POST"])
@require(Permission.IDP_MANAGE)
def provider_new() -> Any:
    who = actor()
    form = ProviderForm()
    _agency_choices(form, who.area_id, without_provider=True)
    if form.validate_on_submit():
        try:
            if not form.agency_id.data:
                raise ValidationFailed({"agency_id": "Select the agency whose provider this is"})
            agency = agencies.get_agency_in_area(form.agency_id.data, who.area_id)
            provider = identity.add_provider(
                who, agency, _provider_data(form), production=_settings().is_production
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(
                f"{agency.name} now signs its people in through its own provider. Check the "
                "connection below before telling them.",
                "success",
            )
            return redirect(url_for("identity.provider_edit", provider_id=provider.id))
    return _provider_page(form, None, status=422 if request.method == "POST" else 200)


@bp.route("/identity-providers/<int:provider_id>", methods=["GET", "POST"])
@require(Permission.IDP_MANAGE)
def provider_edit(provider_id: int) -> Any:
    who = actor()
    provider = identity.get_provider_in_area(provider_id, who.area_id)
    if request.method == "GET":
        form = _form_for(provider)
    else:
        form = ProviderForm()
        del form.agency_id  # a provider stays with its agency
    status = 200
    if form.validate_on_submit():
        try:
            identity.update_provider(
                who,
                provider,
                _provider_data(form),
                version=int(form.version.data or 0),
                production=_settings().is_production,
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        except Conflict as error:
            form.form_errors.append(error.message)
            status = 409
        else:
            # The row's new version makes every process's cached copy stale at once.
            flash(f"{provider.agency.name}'s provider has been updated.", "success")
            return redirect(url_for("identity.provider_list"))
    if request.method == "POST" and status == 200:
        status = 422
    return _provider_page(form, provider, status=status)


@bp.route("/identity-providers/<int:provider_id>/check", methods=["POST"])
@require(Permission.IDP_MANAGE)
def provider_check(provider_id: int) -> Any:
    """Fetch discovery and the key set now, and show plainly what is wrong."""
    who = actor()
    provider = identity.get_provider_in_area(provider_id, who.area_id)
    findings = oidc.check_provider(
        identity.ProviderConfig.of(provider),
        timeout=_settings().oidc_timeout_seconds,
        redirect_uri=_uris()["callback"],
    )
    provider = identity.get_provider_in_area(provider_id, who.area_id)
    return _provider_page(_form_for(provider), provider, findings=findings)


@bp.route("/identity-providers/<int:provider_id>/refresh", methods=["POST"])
@require(Permission.IDP_MANAGE)
def provider_refresh(provider_id: int) -> Any:
    """Every process fetches the provider's discovery document and keys again at once."""
    who = actor()
    provider = identity.get_provider_in_area(provider_id, who.area_id)
    identity.refresh_provider(who, provider)
    flash(
        f"Every part of the hub will fetch {provider.agency.name}'s keys and settings again "
        "before its next sign-in.",
        "success",
    )
    return redirect(url_for("identity.provider_edit", provider_id=provider.id))


@bp.route("/identity-providers/<int:provider_id>/disabled", methods=["POST"])
@require(Permission.IDP_MANAGE)
def provider_disable(provider_id: int) -> Any:
    who = actor()
    provider = identity.get_provider_in_area(provider_id, who.area_id)
    disable = request.form.get("disabled") == "yes"
    identity.set_provider_disabled(who, provider, disable)
    flash(
        f"Sign-in through {provider.agency.name}'s provider has been "
        f"{'switched off' if disable else 'switched on'}.",
        "success",
    )
    return redirect(url_for("identity.provider_list"))


@bp.route("/api-clients")
@require(Permission.IDP_MANAGE)
def api_client_list() -> str:
    who = actor()
    return render_template(
        "auth/admin/api_client_list.html",
        clients=identity.list_api_clients(who.area_id),
        audience=_settings().api_audience,
    )


@bp.route("/api-clients/new", methods=["GET", "POST"])
@require(Permission.IDP_MANAGE)
def api_client_new() -> Any:
    who = actor()
    form = ApiClientForm()
    _agency_choices(form, who.area_id)
    if form.validate_on_submit():
        try:
            client = identity.add_api_client(
                who,
                identity.ApiClientData(
                    agency_id=form.agency_id.data or 0,
                    client_id=form.client_id.data or "",
                    name=form.name.data or "",
                    scopes=frozenset(form.scopes.data or []),
                ),
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"{client.name} can now call the API as {client.agency.name}.", "success")
            return redirect(url_for("identity.api_client_list"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "auth/admin/api_client_form.html", form=form, audience=_settings().api_audience
    ), status


@bp.route("/api-clients/<int:client_id>/disabled", methods=["POST"])
@require(Permission.IDP_MANAGE)
def api_client_disable(client_id: int) -> Any:
    who = actor()
    client = identity.get_api_client_in_area(client_id, who.area_id)
    disable = request.form.get("disabled") == "yes"
    identity.set_api_client_disabled(who, client, disable)
    flash(f"{client.name} has been {'disabled' if disable else 'enabled'}.", "success")
    return redirect(url_for("identity.api_client_list"))


@bp.route("/approvals")
@require(Permission.MEMBERS_APPROVE)
def approvals() -> str:
    who = actor()
    resets = [
        (reset, agencies.get_member(reset.member_id)) for reset in services.resets_to_decide(who)
    ]
    return render_template(
        "auth/admin/approvals.html", pending=identity.pending_approvals(who), resets=resets
    )


@bp.route("/approvals/resets/<int:reset_id>", methods=["POST"])
@require(Permission.MEMBERS_APPROVE)
def reset_decision(reset_id: int) -> Any:
    """A MARAC representative approves or refuses a reset of a member of their agency."""
    who = actor()
    reset, member = services.get_reset_to_decide(who, reset_id)
    approve = request.form.get("decision") == "approve"
    services.decide_credential_reset(who, reset, approve=approve)
    flash(
        f"{member.name} has been e-mailed a one-time link to choose a new password."
        if approve
        else f"The reset of {member.name}'s sign-in has been refused.",
        "success",
    )
    return redirect(url_for("identity.approvals"))


@bp.route("/approvals/<int:identity_id>", methods=["GET", "POST"])
@require(Permission.MEMBERS_APPROVE)
def approval(identity_id: int) -> Any:
    who = actor()
    pending = identity.get_pending(who, identity_id)
    allowed = identity.approvable_roles(who)
    form = ApprovalForm()
    form.roles.choices = choices((r.value, r.label) for r in allowed)
    if request.method == "GET":
        form.roles.data = sorted(r.value for r in pending.suggested if r in allowed)
    status = 200
    if request.method == "POST" and form.validate_on_submit():
        member = pending.member
        if request.form.get("decision") == "refuse":
            identity.refuse_sign_in(who, pending)
            flash(f"{member.name} has not been given access.", "success")
            return redirect(url_for("identity.approvals"))
        try:
            identity.approve_sign_in(who, pending, [Role(r) for r in form.roles.data or []])
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"{member.name} can now sign in.", "success")
            return redirect(url_for("identity.approvals"))
    if request.method == "POST":
        status = 422
    return render_template("auth/admin/approval.html", form=form, pending=pending), status


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
