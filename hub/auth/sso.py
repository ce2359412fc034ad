"""Sign-in through an agency's own identity provider, step-up, and signing out there too.

The sign-in page's agency choice lands on a hub page that moves on to the provider with a
``Refresh`` (not a redirect): the site's CSP says ``form-action 'self'``, and browsers
apply it to every redirect that follows a form submission, so a form can never be
answered with a redirect to another site. Links and refreshes are not form submissions.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import MethodNotAllowed, NotFound

from audit.actions import LedgerAction
from audit.ledger import Subject, record, record_refusal
from hub.auth import identity, oidc, services
from hub.auth.forms import FindAgencyForm, StepUpForm
from hub.auth.views import complete_sign_in, limiter, render_sign_in, safe_next
from hub.core.access import Actor, Permission
from hub.core.config import Settings
from hub.core.errors import StepUpRequired
from hub.core.inputs import bounded_id
from hub.core.requestctx import actor as current
from hub.core.routes import public, require

log = logging.getLogger(__name__)
bp = Blueprint("sso", __name__, template_folder="templates")

STATES = "oidc_states"  # the browser's own pending requests (at most a few tabs at once)
STEP_UP_NEXT = "step_up_next"
SIGNED_OUT = "signed_out_session"

#: reason -> (title, explanation); {agency} is the agency whose provider was used.
MESSAGES: dict[str, tuple[str, str]] = {
    "provider_unavailable": (
        "{agency}'s sign-in service is not available",
        "MARAC Hub could not reach {agency}'s sign-in service, or it answered with something "
        "MARAC Hub cannot use. You have not been signed in. Try again in a few minutes; if it "
        "keeps happening, tell your agency's IT service desk. People at agencies without "
        "their own sign-in can still sign in with their MARAC Hub password.",
    ),
    "state_mismatch": (
        "Your sign-in could not be completed",
        "The answer from the sign-in service did not match a sign-in started in this browser, "
        "or it was already used. Start again from the sign-in page.",
    ),
    "request_expired": (
        "Your sign-in took too long",
        "You have not been signed in because too much time passed. Start again.",
    ),
    "provider_error": (
        "You did not finish signing in",
        "{agency}'s sign-in service did not sign you in (it may have been cancelled). "
        "Start again if you want to sign in.",
    ),
    "token_refused": (
        "Your sign-in could not be completed",
        "{agency}'s sign-in service would not confirm this sign-in. Start again.",
    ),
    "wrong_issuer": (
        "We could not confirm who you are",
        "The sign-in answer did not come from {agency}'s sign-in service, so you have not "
        "been signed in.",
    ),
    "wrong_audience": (
        "We could not confirm who you are",
        "The sign-in answer was meant for another service, not MARAC Hub, so you have not "
        "been signed in.",
    ),
    "expired_token": (
        "We could not confirm who you are",
        "The sign-in answer from {agency} had already expired, so you have not been signed "
        "in. Check your computer's clock is right, then start again.",
    ),
    "issued_at_invalid": (
        "We could not confirm who you are",
        "The sign-in answer was not issued for this sign-in (it is too old, or dated in the "
        "future), so you have not been signed in. Start again.",
    ),
    "bad_signature": (
        "We could not confirm who you are",
        "The sign-in answer's signature does not match {agency}'s keys, so you have not "
        "been signed in.",
    ),
    "unknown_key": (
        "We could not confirm who you are",
        "The sign-in answer was signed with a key {agency} does not publish, so you have "
        "not been signed in.",
    ),
    "unsigned_token": (
        "We could not confirm who you are",
        "The sign-in answer was not signed, so you have not been signed in.",
    ),
    "algorithm_refused": (
        "We could not confirm who you are",
        "The sign-in answer was signed in a way MARAC Hub does not accept, so you have not "
        "been signed in.",
    ),
    "malformed_token": (
        "We could not confirm who you are",
        "The sign-in answer could not be read, so you have not been signed in.",
    ),
    "missing_nonce": (
        "We could not confirm who you are",
        "The sign-in answer was not tied to this sign-in (it had no nonce), so you have not "
        "been signed in.",
    ),
    "nonce_mismatch": (
        "We could not confirm who you are",
        "The sign-in answer belongs to a different sign-in (it may have been replayed), so "
        "you have not been signed in.",
    ),
    "no_subject": (
        "We could not confirm who you are",
        "The sign-in answer did not say who you are, so you have not been signed in.",
    ),
    "no_id_token": (
        "We could not confirm who you are",
        "{agency}'s sign-in service did not send an ID token, so you have not been signed in.",
    ),
    "userinfo_mismatch": (
        "We could not confirm who you are",
        "{agency}'s sign-in service described a different person than the one who signed "
        "in, so you have not been signed in.",
    ),
    "no_email": (
        "Your account did not share an email address",
        "{agency}'s sign-in service did not tell MARAC Hub your email address, so you have "
        "not been signed in. Ask your IT service desk to release it to MARAC Hub.",
    ),
    "email_unverified": (
        "Your email address is not verified",
        "{agency}'s sign-in service did not confirm that your email address is verified, so "
        "you have not been signed in. Ask your IT service desk to verify it.",
    ),
    "acr_refused": (
        "Your sign-in was not strong enough",
        "{agency}'s sign-in service did not confirm the level of sign-in MARAC Hub needs (for "
        "example a smartcard or security key), so you have not been signed in. Sign in again "
        "with it.",
    ),
    "wrong_agency": (
        "Your account belongs to another agency",
        "You signed in with {agency}'s sign-in service, but your email address or your MARAC "
        "Hub account belongs to a different agency. Sign in through your own agency.",
    ),
    "unknown_domain": (
        "Your email address is not registered with MARAC Hub",
        "Your email address's domain is not one MARAC Hub knows for {agency} or any other "
        "partner agency, so you have not been signed in. Ask your agency's MARAC "
        "representative or the hub administrator.",
    ),
    "member_disabled": (
        "Your MARAC Hub access has been turned off",
        "Your MARAC Hub account is disabled, so you have not been signed in. If you think "
        "this is wrong, ask your agency's MARAC representative.",
    ),
    "agency_disabled": (
        "{agency} no longer uses MARAC Hub",
        "{agency} has left MARAC Hub or is paused, so its people cannot sign in.",
    ),
    "provider_disabled": (
        "{agency}'s sign-in is switched off",
        "The hub administrator has switched off sign-in through {agency}'s own accounts. Ask "
        "them, or your agency's MARAC representative.",
    ),
    "refused_by_agency": (
        "Your agency has not approved your access",
        "Your agency's MARAC representative has not approved your use of MARAC Hub, so you "
        "have not been signed in.",
    ),
    "no_role": (
        "Your account gives you no role in MARAC Hub",
        "{agency}'s sign-in service does not give your account any role in MARAC Hub (your "
        "groups have no MARAC Hub role), so you have not been signed in. Ask your agency's "
        "MARAC representative.",
    ),
    "not_reauthenticated": (
        "You did not sign in again",
        "{agency}'s sign-in service did not ask for your password again, so this action "
        "stays locked. Try again.",
    ),
    "step_up_wrong_person": (
        "That was a different account",
        "You confirmed with a different account than the one signed in to MARAC Hub. Sign in "
        "again with your own account.",
    ),
}
#: Refusals where starting again may help; for the rest it would only repeat the refusal.
RETRYABLE = frozenset(
    {
        "provider_unavailable",
        "state_mismatch",
        "request_expired",
        "provider_error",
        "token_refused",
        "expired_token",
        "issued_at_invalid",
        "missing_nonce",
        "nonce_mismatch",
        "not_reauthenticated",
    }
)
_STATUS = {
    "provider_unavailable": 503,
    "state_mismatch": 400,
    "request_expired": 400,
    "provider_error": 400,
}


def _settings() -> Settings:
    return current_app.extensions["hub.settings"]  # type: ignore[no-any-return]


def redirect_uri() -> str:
    return _settings().base_url + url_for("sso.callback")


Provider = identity.IdentityProvider | identity.ProviderConfig


def _config(provider: Provider | None) -> identity.ProviderConfig | None:
    if provider is None or isinstance(provider, identity.ProviderConfig):
        return provider
    return identity.ProviderConfig.of(provider)


def _agency_name(provider: identity.ProviderConfig | None) -> str:
    return provider.agency_name if provider is not None else "Your agency"


def _anonymous(provider: identity.ProviderConfig | None) -> Actor:
    return Actor(
        kind="anonymous",
        member_id=None,
        agency_id=provider.agency_id if provider else None,
        area_id=None,
        roles=frozenset(),
        name="anonymous",
        request_id=g.request_id,
    )


def _problem_page(reason: str, provider: Provider | None, status: int) -> tuple[str, int]:
    provider = _config(provider)
    title, text = MESSAGES.get(reason, MESSAGES["state_mismatch"])
    name = _agency_name(provider)
    return render_template(
        "auth/sso_problem.html",
        title=title.format(agency=name),
        text=text.format(agency=name),
        reason=reason,
        retry=url_for("sso.start", agency_id=provider.agency_id)
        if provider is not None and reason in RETRYABLE
        else None,
    ), status


def _refuse(
    reason: str,
    provider: Provider | None,
    *,
    member_id: int | None = None,
    status: int | None = None,
) -> tuple[str, int]:
    """Show the person why, and record the refusal in a transaction of its own."""
    provider = _config(provider)
    details: dict[str, Any] = {"reason": reason, "method": "oidc"}
    if provider is not None:
        details["idp"] = provider.id
    record_refusal(
        _anonymous(provider),
        LedgerAction.SIGNIN_FAILED,
        Subject("member", member_id) if member_id is not None else None,
        **details,
    )
    return _problem_page(reason, provider, status or _STATUS.get(reason, 403))


def _remember_state(state: str) -> None:
    session[STATES] = [*session.get(STATES, [])[-2:], state]


def _forget_state(state: str) -> None:
    session[STATES] = [s for s in session.get(STATES, []) if s != state]


@bp.route("/sign-in/agency")
@public
def choose_agency() -> Any:
    """Say where the person is going, then move on to the provider (a refresh, not a form)."""
    agency_id = bounded_id(request.args.get("agency"))
    provider = identity.provider_for_agency(agency_id) if agency_id else None
    if provider is None or provider.is_disabled or provider.agency.is_disabled:
        flash("Choose your agency from the list, or sign in with your MARAC Hub password.", "info")
        return redirect(url_for("auth.sign_in"))
    target = url_for("sso.start", agency_id=provider.agency_id)
    response = make_response(
        render_template("auth/agency_redirect.html", provider=provider, target=target)
    )
    response.headers["Refresh"] = f"0; url={target}"
    return response


@bp.route("/sign-in/find", methods=["POST"])
@public
@limiter.limit("30 per minute")
def find_agency() -> Any:
    """Find the person's agency from their email domain (the address is not kept)."""
    form = FindAgencyForm()
    if not form.validate_on_submit():
        return render_sign_in(find_form=form, status=422)
    email = (form.work_email.data or "").strip().lower()
    domain = email.rsplit("@", 1)[1] if email.count("@") == 1 else ""
    agency = identity.find_agency_by_email_domain(domain) if domain else None
    provider = identity.provider_for_agency(agency.id) if agency is not None else None
    if provider is not None and not provider.is_disabled and not provider.agency.is_disabled:
        return redirect(url_for("sso.choose_agency", agency=provider.agency_id), 303)
    if not domain:
        form.work_email.errors = [
            "Enter an email address in the correct format, like name@agency.example"
        ]
        return render_sign_in(find_form=form, status=422)
    return render_sign_in(
        email=email,
        status=200,
        notice=(
            "Your agency does not have its own sign-in for MARAC Hub. Sign in with your MARAC "
            "Hub password."
        ),
    )


@bp.route("/sign-in/agency/<int:agency_id>/start")
@public
@limiter.limit("30 per minute")
def start(agency_id: int) -> Any:
    if g.get("hub_actor") is not None:
        return redirect(url_for("web.home"))
    provider = identity.provider_for_agency(agency_id)
    if provider is None:
        raise NotFound()
    if provider.is_disabled or provider.agency.is_disabled:
        return _refuse("provider_disabled" if provider.is_disabled else "agency_disabled", provider)
    config = identity.ProviderConfig.of(provider)
    try:
        # Asked now, with no transaction open: a provider that is down or hangs gets the
        # hub's own page, the same from every process, and holds up no other request.
        metadata = oidc.probe(config)
        url, state = oidc.begin(
            config,
            metadata,
            redirect_uri=redirect_uri(),
            return_to=safe_next(session.get("next")),
        )
    except oidc.ProviderUnavailable as failure:
        log.warning("identity provider %s unavailable: %s", config.id, failure.problem)
        return _refuse("provider_unavailable", config)
    _remember_state(state)
    return redirect(url)


@bp.route("/auth/callback")
@public
@limiter.limit("30 per minute")
def callback() -> Any:
    """The provider's answer: verify it, decide who the person is, and sign them in."""
    state = request.args.get("state", "")
    expected = list(session.get(STATES, []))
    _forget_state(state)
    try:
        # The stored request is used up in a transaction of its own, then the code is
        # redeemed and the token checked with no transaction open; only then does this
        # request write.
        pending, config = oidc.take_request(state, expected)
        done = oidc.complete(
            pending,
            config,
            code=request.args.get("code"),
            error=request.args.get("error"),
            redirect_uri=redirect_uri(),
        )
    except oidc.CallbackRefused as refused:
        return _refuse(refused.reason, refused.provider)
    except oidc.ProviderUnavailable as failure:
        provider_id = failure.provider.id if failure.provider else None
        log.warning("identity provider %s unavailable: %s", provider_id, failure.problem)
        return _refuse("provider_unavailable", failure.provider)
    provider = identity.get_provider(config.id)
    identity.note_claims_seen(provider.id, done.claims.claims, provider.roles_claim)
    if done.purpose == "step_up":
        return _finish_step_up(done)
    try:
        admission = identity.admit_federated(provider, done.claims, request_id=g.request_id)
    except identity.SignInRefused as refused:
        return _refuse(refused.reason, provider, member_id=refused.member_id)
    if not admission.admitted:
        # What was created for them must stay (so this answers 200 and commits).
        record(
            _anonymous(done.provider),
            LedgerAction.SIGNIN_FAILED,
            Subject("member", admission.member.id),
            reason="pending_approval",
            method="oidc",
            idp=done.provider.id,
        )
        return render_template(
            "auth/sso_pending.html", provider=provider, new_member=admission.member.is_pending
        )
    session["next"] = done.return_to
    hint = done.id_token if len(done.id_token) <= 4000 else None
    return complete_sign_in(admission.member, method="oidc", idp_id=provider.id, id_token_hint=hint)


def _finish_step_up(done: oidc.Completed) -> Any:
    who = g.get("hub_actor")
    token = session.get("sid")
    linked = (
        identity.identity_of(who.member_id, done.provider.id)
        if who is not None and who.member_id == done.member_id
        else None
    )
    if (
        token is None
        or linked is None
        or linked.issuer != done.claims.issuer
        or linked.subject != done.claims.subject
    ):
        return _refuse(
            "step_up_wrong_person",
            done.provider,
            member_id=who.member_id if who is not None else None,
        )
    hint = done.id_token if len(done.id_token) <= 4000 else None
    services.confirm_reauthenticated(who, token, method="oidc", id_token_hint=hint)
    flash("You have confirmed it is you. You can carry on.", "success")
    return redirect(safe_next(session.pop(STEP_UP_NEXT, None) or done.return_to))


# --- Step-up -----------------------------------------------------------------------------


@bp.route("/sign-in/again", methods=["GET", "POST"])
@require(Permission.SESSION_USE)
@limiter.limit("10 per minute", methods=["POST"])
def again() -> Any:
    """Sign in again before a sensitive action: provider, or password and security code."""
    who = current()
    row = g.hub_session
    minutes = _settings().step_up_minutes
    if row.method == "oidc" and row.idp_id is not None:
        provider = identity.get_provider(row.idp_id)
        return render_template("auth/step_up.html", provider=provider, form=None, minutes=minutes)
    check = services.step_up_requirements(who)
    form = StepUpForm()
    if request.method == "POST":
        if form.validate_on_submit():
            settings = _settings()
            outcome = services.check_step_up(
                who,
                form.password.data or "",
                form.code.data or "",
                demo=settings.demo and not settings.is_production,
                max_failures=settings.login_max_failures,
                lockout_minutes=settings.login_lockout_minutes,
            )
            if outcome == "ok":
                services.confirm_reauthenticated(who, session["sid"], method="local")
                flash("You have confirmed it is you. You can carry on.", "success")
                return redirect(safe_next(session.pop(STEP_UP_NEXT, None)))
            form.form_errors.append(
                "The password or security code is not right. Check them and try again."
            )
        form.password.data = ""
        form.code.data = ""
        return render_template(
            "auth/step_up.html",
            provider=None,
            form=form,
            minutes=minutes,
            needs_code=check.needs_code,
        ), 422
    return render_template(
        "auth/step_up.html", provider=None, form=form, minutes=minutes, needs_code=check.needs_code
    )


@bp.route("/sign-in/again/start")
@require(Permission.SESSION_USE)
@limiter.limit("30 per minute")
def again_start() -> Any:
    who = current()
    row = g.hub_session
    if row.method != "oidc" or row.idp_id is None:
        return redirect(url_for("sso.again"))
    provider = identity.get_provider(row.idp_id)
    if provider.is_disabled or provider.agency.is_disabled:
        reason = "provider_disabled" if provider.is_disabled else "agency_disabled"
        return _problem_page(reason, provider, 403)
    config = identity.ProviderConfig.of(provider)
    return_to = safe_next(session.get(STEP_UP_NEXT))
    member_id = who.member_id
    try:
        metadata = oidc.probe(config)
        url, state = oidc.begin(
            config,
            metadata,
            redirect_uri=redirect_uri(),
            purpose="step_up",
            member_id=member_id,
            return_to=return_to,
            max_age=_settings().step_up_minutes * 60,
        )
    except oidc.ProviderUnavailable as failure:
        log.warning("identity provider %s unavailable: %s", config.id, failure.problem)
        return _problem_page("provider_unavailable", config, 503)
    _remember_state(state)
    return redirect(url)


def _return_path() -> str:
    """Where to come back to after signing in again: this page, or one that shows it."""
    if request.method == "GET":
        path = request.full_path
        return path[:-1] if path.endswith("?") else path
    adapter = current_app.url_map.bind("")
    # A form's own URL, or the page it sits on (its parent, e.g. the case of a reveal form).
    for path in (request.path, request.path.rsplit("/", 1)[0]):
        try:
            adapter.match(path, method="GET")
        except (MethodNotAllowed, NotFound):
            continue
        return path
    return url_for("web.home")


# --- Signing out at the provider too ---------------------------------------------------


@bp.route("/sign-out/provider")
@public
def provider_sign_out() -> Any:
    """After the hub session ended: on to the provider's end_session_endpoint (a refresh)."""
    session_id = session.pop(SIGNED_OUT, None)
    ended = services.logout_hint(session_id)
    url = None
    if ended is not None:
        provider = identity.ProviderConfig.of(identity.get_provider(ended.idp_id))
        # The provider may be asked for its discovery document: before anything is written.
        url = oidc.logout_url(
            provider, ended.hint, _settings().base_url + url_for("sso.signed_out")
        )
        services.forget_logout_hint(session_id)
    if url is None:
        flash("You have signed out.", "success")
        return redirect(url_for("auth.sign_in"))
    response = make_response(
        render_template("auth/provider_sign_out.html", provider=provider, target=url)
    )
    response.headers["Refresh"] = f"0; url={url}"
    return response


@bp.route("/signed-out")
@public
def signed_out() -> Any:
    if g.get("hub_actor") is not None:
        return redirect(url_for("web.home"))
    return render_template("auth/signed_out.html")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)

    @app.errorhandler(StepUpRequired)
    def _step_up(error: StepUpRequired) -> Response:
        # Nothing the refused request did may stick, although the answer is a redirect.
        g.hub_rollback = True
        if request.path.startswith("/api/"):
            from hub.web.views import problem

            return problem(403, "Sign-in too old", error.message)
        session[STEP_UP_NEXT] = _return_path()
        return redirect(url_for("sso.again"), 303)
