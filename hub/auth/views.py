"""Sign-in, second factor, invitations and sign-out for local accounts.

Each request's actor is resolved here from the server-side session, before any view runs.
"""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from agencies.models import Member
from agencies.services import actor_for
from hub.auth import services
from hub.auth.forms import ChoosePasswordForm, CodeForm, FindAgencyForm, SignInForm
from hub.core import db
from hub.core.access import Permission
from hub.core.clock import now
from hub.core.config import Settings
from hub.core.requestctx import actor as current
from hub.core.requestctx import set_actor
from hub.core.routes import public, require

bp = Blueprint("auth", __name__, template_folder="templates")
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

PENDING_SECONDS = 300


def _settings() -> Settings:
    return current_app.extensions["hub.settings"]  # type: ignore[no-any-return]


def safe_next(target: str | None) -> str:
    """Only follow a same-site path after sign-in (no open redirect)."""
    if not target:
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    return target


_safe_next = safe_next


def render_sign_in(
    form: SignInForm | None = None,
    *,
    find_form: FindAgencyForm | None = None,
    email: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The sign-in page: agencies with their own sign-in, then the password form."""
    from hub.auth.identity import sign_in_choices

    form = form or SignInForm(formdata=None)
    if email is not None:
        form.email.data = email
    return render_template(
        "auth/sign_in.html",
        form=form,
        find_form=find_form or FindAgencyForm(formdata=None),
        providers=sign_in_choices(),
        notice=notice,
    ), status


def _begin_pending(member: Member, stage: str, **extra: Any) -> None:
    nxt = session.get("next")
    session.clear()
    session["pending"] = {"member": member.id, "stage": stage, "at": now().timestamp(), **extra}
    if nxt:
        session["next"] = nxt


def _pending() -> dict[str, Any] | None:
    pending = session.get("pending")
    if not pending or now().timestamp() - float(pending.get("at", 0)) > PENDING_SECONDS:
        return None
    return pending  # type: ignore[no-any-return]


def complete_sign_in(member: Member, method: str = "local", **kwargs: Any) -> Response:
    target = _safe_next(session.get("next"))
    session.clear()  # a fresh session at sign-in: nothing from before survives
    token = services.start_session(member, method=method, request_id=g.request_id, **kwargs)
    session["sid"] = token
    session.permanent = True
    return redirect(target)


_complete_sign_in = complete_sign_in


@bp.route("/sign-in", methods=["GET", "POST"])
@public
@limiter.limit("30 per minute", methods=["POST"])
def sign_in() -> Any:
    if g.get("hub_actor") is not None:
        return redirect(url_for("web.home"))
    form = SignInForm()
    if request.method == "GET" and request.args.get("next"):
        session["next"] = _safe_next(request.args.get("next"))
    if request.method == "POST":
        if form.validate_on_submit():
            settings = _settings()
            check = services.check_password(form.email.data or "", form.password.data or "")
            if check.ok and check.member is not None and uses_own_sign_in(check.member):
                # The agency's own accounts decide who may come in: a hub password must not
                # outlive someone's leaving their agency.
                services.register_failed_sign_in(
                    check.member.id,
                    "agency_uses_provider",
                    max_failures=settings.login_max_failures,
                    lockout_minutes=settings.login_lockout_minutes,
                    request_id=g.request_id,
                )
                form.form_errors.append(
                    f"{check.member.agency.name} signs its staff in with their work accounts. "
                    "Choose your agency above to sign in with your work account."
                )
                form.password.data = ""
                return render_sign_in(form, status=422)
            if check.ok and check.member is not None and check.credential is not None:
                if check.credential.is_demo and settings.demo and not settings.is_production:
                    return _complete_sign_in(check.member)
                if check.credential.has_totp:
                    _begin_pending(check.member, "totp")
                    return redirect(url_for("auth.code"))
                _begin_pending(check.member, "enrol")
                return redirect(url_for("auth.set_up_authenticator"))
            services.register_failed_sign_in(
                check.member.id if check.member else None,
                check.reason,
                max_failures=settings.login_max_failures,
                lockout_minutes=settings.login_lockout_minutes,
                request_id=g.request_id,
            )
            # On the password box, so the error summary links to it (the box is empty again).
            form.password.errors = [services.SIGN_IN_FAILED]
            form.password.data = ""
        return render_sign_in(form, status=422)
    return render_sign_in(form)


def uses_own_sign_in(member: Member) -> bool:
    """Whether the member's agency signs its people in through its own identity provider.

    Switched off or not: while it is off its people cannot sign in at all, and hub
    passwords they may have had from before never come back to life.
    """
    from hub.auth.identity import provider_for_agency

    return provider_for_agency(member.agency_id) is not None


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
@limiter.limit("30 per minute", methods=["POST"])
def code() -> Any:
    pending = _pending()
    if pending is None or pending.get("stage") != "totp":
        flash("Your sign-in took too long. Sign in again.", "info")
        return redirect(url_for("auth.sign_in"))
    form = CodeForm()
    if request.method == "POST":
        reason = "wrong_code"
        if form.validate_on_submit():
            member, reason = services.check_code(pending["member"], form.code.data or "")
            if reason == "ok" and member is not None:
                return _complete_sign_in(member)
        settings = _settings()
        services.register_failed_sign_in(
            pending["member"],
            reason,
            max_failures=settings.login_max_failures,
            lockout_minutes=settings.login_lockout_minutes,
            request_id=g.request_id,
        )
        form.code.errors = [
            "The code is not right or has been used. Enter the current code "
            "from your authenticator app"
        ]
        form.code.data = ""
        return render_template("auth/code.html", form=form), 422
    return render_template("auth/code.html", form=form)


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue().decode()


@bp.route("/sign-in/set-up-authenticator", methods=["GET", "POST"])
@public
@limiter.limit("30 per minute", methods=["POST"])
def set_up_authenticator() -> Any:
    pending = _pending()
    if pending is None or pending.get("stage") != "enrol":
        flash("Your sign-in took too long. Sign in again.", "info")
        return redirect(url_for("auth.sign_in"))
    member = db.session().get(Member, pending["member"])
    credential = db.session().get(services.LocalCredential, pending["member"])
    if member is None or credential is None or not member.can_sign_in():
        abort(400)
    if credential.has_totp:
        flash("Your authenticator is already set up. Sign in with it.", "info")
        return redirect(url_for("auth.sign_in"))
    form = CodeForm()
    status = 200
    if request.method == "POST":
        outcome = "wrong_code"
        if form.validate_on_submit():
            outcome = services.confirm_totp(
                actor_for(member, request_id=g.request_id), credential, form.code.data or ""
            )
            if outcome == "ok":
                return _complete_sign_in(member)
        if outcome in ("wrong_code", "locked"):
            settings = _settings()
            services.register_failed_sign_in(
                member.id,
                outcome,
                max_failures=settings.login_max_failures,
                lockout_minutes=settings.login_lockout_minutes,
                request_id=g.request_id,
            )
        if outcome == "locked":
            session.clear()
            flash(services.SIGN_IN_FAILED, "info")
            return redirect(url_for("auth.sign_in"))
        form.code.errors = [
            "The code is not right, or took too long. Enter the 6-digit code your "
            "authenticator app shows for MARAC Hub now"
        ]
        form.code.data = ""
        status = 422
    # Made and kept on the server: the browser's cookie never holds the secret.
    secret = services.enrolment_secret(credential)
    uri = services.provisioning_uri(secret, member.email)
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return render_template("auth/enrol.html", form=form, qr=_qr_svg(uri), secret=grouped), status


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@public
@limiter.limit("30 per minute", methods=["POST"])
def invitation(token: str) -> Any:
    found = services.find_invitation(token)
    if found is None:
        return render_template("auth/invitation_invalid.html"), 404
    member_id = found.member_id
    member = db.session().get(Member, member_id)
    if member is None or not member.can_sign_in():
        return render_template("auth/invitation_invalid.html"), 404
    if uses_own_sign_in(member):
        return render_template("auth/invitation_invalid.html"), 404
    form = ChoosePasswordForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                # Hashed before anything is written, with no transaction open.
                hashed = services.hash_new_password(form.password.data or "")
                invitation = services.find_invitation(token)
                if invitation is None:
                    return render_template("auth/invitation_invalid.html"), 404
                services.accept_invitation(invitation, db.session().get(Member, member_id), hashed)
            except services.ValidationFailed as error:
                form.password.errors = [error.message]
            except services.Conflict:
                return render_template("auth/invitation_invalid.html"), 404
            else:
                _begin_pending(db.session().get(Member, member_id), "enrol")
                return redirect(url_for("auth.set_up_authenticator"))
        return render_template("auth/invitation.html", form=form, member=member), 422
    return render_template("auth/invitation.html", form=form, member=member)


@bp.route("/sign-out", methods=["POST"])
@require(Permission.SESSION_USE)
def sign_out() -> Any:
    token = session.get("sid")
    ended = services.end_session(current(), token) if token else None
    session.clear()
    if ended is not None and ended.method == "oidc" and ended.idp_id is not None:
        # On to the provider's own sign-out, from a page (a redirect answering this form
        # would be blocked by the CSP's form-action).
        session["signed_out_session"] = ended.id
        return redirect(url_for("sso.provider_sign_out"), 303)
    flash("You have signed out.", "success")
    return redirect(url_for("auth.sign_in"))


@bp.route("/account")
@require(Permission.SESSION_USE)
def account() -> str:
    who = current()
    member = db.session().get(Member, who.member_id)
    return render_template("auth/account.html", member=member, actor=who)


def signed_out_message(reason: str | None, idle_minutes: int) -> str:
    if reason == "idle":
        minutes = "1 minute" if idle_minutes == 1 else f"{idle_minutes} minutes"
        return (
            f"You have been signed out because you were inactive for {minutes}. This "
            "protects the information in the hub. Sign in again to continue."
        )
    return "You have been signed out. Sign in again to continue."


@bp.route("/session/stay-signed-in", methods=["POST"])
@require(Permission.SESSION_USE)
def stay_signed_in() -> Response:
    """The time-out warning's "Stay signed in": counts as activity, so the session goes on."""
    g.hub_seen_at = services.keep_session_alive(g.hub_session)
    return jsonify({"seconds_left": _settings().session_idle_minutes * 60})


def idle_timing() -> dict[str, int] | None:
    """For a signed-in page's time-out warning: the idle limit and how long is left of it."""
    seen_at = g.get("hub_seen_at")
    if g.get("hub_actor") is None or seen_at is None:
        return None
    settings = _settings()
    limit = settings.session_idle_minutes * 60
    left = limit - int((now() - seen_at).total_seconds())
    return {
        "minutes": settings.session_idle_minutes,
        "left": max(left, 0),
        "warning": settings.session_warning_seconds,
    }


def load_actor() -> None:
    """Resolve the request's actor from its session; end sessions that lost their right."""
    set_actor(None)
    if request.endpoint in {"static", "web.assets"}:
        return
    if request.path.startswith("/api/"):
        return  # the API takes bearer tokens only: a browser's cookie must not act there
    token = session.get("sid")
    if not token:
        return
    settings = _settings()
    resolved = services.resolve_session(
        token, idle_minutes=settings.session_idle_minutes, max_hours=settings.session_max_hours
    )
    if not isinstance(resolved, services.ResolvedSession):
        session.clear()
        flash(signed_out_message(resolved, settings.session_idle_minutes), "info")
        return
    g.hub_session = resolved.row
    g.hub_seen_at = resolved.seen_at
    # Held for the request: the unit of work's identity map keeps rows only weakly, and the
    # gate, the header's counts and the page all ask for the reader's agency again.
    g.hub_member = resolved.member
    set_actor(
        actor_for(
            resolved.member, authenticated_at=resolved.row.authenticated_at, request_id=g.request_id
        )
    )


def init_app(app: Flask) -> None:
    settings: Settings = app.extensions["hub.settings"]
    app.config["RATELIMIT_STORAGE_URI"] = settings.ratelimit_storage_uri
    limiter.init_app(app)
    app.register_blueprint(bp)
    app.before_request(load_actor)
    app.permanent_session_lifetime = timedelta(hours=settings.session_max_hours)

    @app.context_processor
    def _agency_name() -> dict[str, Any]:
        actor = g.get("hub_actor")
        return {
            "current_agency_name": actor.agency_name if actor else "",
            "idle_timing": idle_timing(),
        }


@bp.route("/admin/members/<int:member_id>/invitation", methods=["POST"])
@require(Permission.MEMBERS_MANAGE)
def create_invitation(member_id: int) -> Any:
    """A sign-in link for a new member; for an existing one, a reset their agency approves."""
    who = current()
    member = db.session().get(Member, member_id)
    if member is None or member.agency.area_id != who.area_id:
        abort(404)
    if services.has_account(member):
        services.request_credential_reset(who, member)
        return render_template("auth/reset_requested.html", member=member)
    token = services.create_invitation(who, member)
    link = _settings().base_url + url_for("auth.invitation", token=token)
    return render_template("auth/invitation_created.html", member=member, link=link)


@bp.route("/auth/jwks.json")
@public
def client_jwks() -> Response:
    """The hub's public keys as an OpenID client (private_key_jwt), for providers to fetch."""
    from hub.auth import client_keys

    try:
        body = client_keys.public_jwks()
    except client_keys.ClientKeyUnavailable:
        body = {"keys": []}
    return jsonify(body)
