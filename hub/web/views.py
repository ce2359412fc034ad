"""The web shell: layout, home page, front-end assets, error pages."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_wtf.csrf import CSRFError
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from markupsafe import escape
from sqlalchemy import text as sql_text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from hub.core import requestctx
from hub.core.access import Permission, Role
from hub.core.clock import now, to_london
from hub.core.db import is_connection_failure
from hub.core.errors import NO_SUCH_CASE, HubError, Refused, ValidationFailed
from hub.core.routes import public, require

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
bp = Blueprint("web", __name__, template_folder="templates")


@bp.route("/")
@require(Permission.SESSION_USE)
def home() -> str:
    """Each person's worklist: what waits for them, every item a link to where it is done."""
    from hub.core.clock import today_london
    from hub.web.worklist import worklist

    actor = requestctx.actor()
    return render_template("web/home.html", actor=actor, work=worklist(actor), today=today_london())


@bp.route("/assets/<path:filename>")
@public
def assets(filename: str) -> Response:
    """Serve GOV.UK Frontend's fonts and images where its stylesheet expects them."""
    response = send_from_directory(STATIC / "govuk", filename, max_age=3600)
    return response


@bp.route("/healthz")
@public
def healthz() -> Response:
    """Whether this hub works: database reachable, sealing within its lag, checkpoint fresh.

    For supervisors and monitoring (not a load balancer's liveness check: a sealing failure
    must not take practitioners' access away): 200 when every check passes, 503 otherwise,
    in the health-check format of draft-inadarei-api-health-check. It names no person and
    no case; its own session, with a short statement timeout, so it answers quickly even
    when the database does not.
    """
    from audit import health

    settings = current_app.extensions["hub.settings"]
    database = current_app.extensions["hub.db"]
    checkpoint_limit = 2 * 60 * settings.ledger_checkpoint_minutes
    checks: dict[str, list[dict[str, Any]]] = {}
    status = "pass"
    try:
        with database.session_factory() as session:
            if database.dialect == "postgresql":
                session.execute(sql_text("SET LOCAL statement_timeout = '3s'"))
            found = health.check(
                session,
                moment=now(),
                max_seal_lag_seconds=settings.ledger_max_seal_lag_seconds,
                checkpoint_max_age_seconds=checkpoint_limit,
                thorough=False,
            )
    except SQLAlchemyError as error:
        log.error("health check: the database does not answer (%s)", type(error).__name__)
        checks["database:connection"] = [{"status": "fail", "output": "no answer"}]
        status = "fail"
    else:
        checks["database:connection"] = [{"status": "pass"}]
        checks["ledger:sealing-lag"] = [
            {
                "status": "fail" if found.sealing_problems else "pass",
                "observedValue": round(found.oldest_waiting_seconds, 1),
                "observedUnit": "s",
                "limit": settings.ledger_max_seal_lag_seconds,
                "waiting": found.waiting.count,
            }
        ]
        age = found.checkpoint_age_seconds
        checks["ledger:checkpoint-age"] = [
            {
                "status": "fail" if found.checkpoint_problems else "pass",
                "observedValue": None if age is None else round(age),
                "observedUnit": "s",
                "limit": checkpoint_limit,
            }
        ]
        if not found.ok:
            status = "fail"
    response = jsonify({"status": status, "checks": checks})
    response.status_code = 200 if status == "pass" else 503
    response.mimetype = "application/health+json"
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/problem+json"
    )


def problem(status: int, title: str, detail: str, **extra: Any) -> Response:
    """An RFC 9457 problem response."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


ERROR_TITLES = {
    400: ("There is a problem with your request", "Check what you entered and try again."),
    401: ("Sign in required", "Sign in to continue."),
    403: ("You do not have access to this page", "Your role or agency does not give access."),
    404: ("Page not found", "If you typed the web address, check it is correct."),
    405: ("This action is not allowed here", "Go back and try again."),
    413: ("What you sent is too large", "Send a smaller file or shorter text."),
    429: ("Too many attempts", "Wait a few minutes and try again."),
    500: ("Sorry, there is a problem with the service", "Try again later."),
    503: (
        "Sorry, the service is unavailable",
        "Nothing you sent was saved. Try again in a minute.",
    ),
}

#: The error page when even the template cannot render: no layout, no database, no actor.
BARE_ERROR_PAGE = """<!DOCTYPE html>
<html lang="en" class="govuk-template"><head><meta charset="utf-8">
<title>{title} – MARAC Hub</title>
<link rel="stylesheet" href="/assets/govuk-frontend.min.css"></head>
<body class="govuk-template__body"><div class="govuk-width-container">
<main class="govuk-main-wrapper" id="main-content" role="main">
<h1 class="govuk-heading-l">{title}</h1><p class="govuk-body">{detail}</p>
<p class="govuk-body-s">Error {status}{reference}</p></main></div></body></html>
"""


def _error_page(status: int, detail: str | None = None, headers: Any = None) -> Response:
    title, default_detail = ERROR_TITLES.get(status, ERROR_TITLES[500])
    if _wants_json():
        response = problem(status, title, detail or default_detail)
    else:
        response = Response(_render_error(status, title, detail or default_detail), status=status)
    if headers:
        for key, value in headers:
            if key.lower() != "content-type":
                response.headers[key] = value
    return response


#: URL variables that name a case: a refused request for one of them is a case refusal.
CASE_VARIABLES = ("referral_id", "case_id")


#: Addresses that name a case by its number. An id too large for any row matches no route
#: (so it can never reach the database), but the attempt is still a refusal on the record.
CASE_PATHS = re.compile(r"^/(?:cases|referrals|tasks/case|api/v1/referrals)/(\d{1,40})(?:/|$)")
TASK_PATHS = re.compile(r"^/tasks/(\d{1,40})(?:/|$)")


def _record_guessed_case() -> str | None:
    """For an address naming a case or a task by a number no row can have: record the
    refusal of the case, and give the same sentence as for any missing one."""
    if TASK_PATHS.match(request.path):
        return "There is no such task."
    found = CASE_PATHS.match(request.path)
    if found is None:
        return None
    who = requestctx.current_actor()
    if who is not None and who.kind != "system":
        from consent import gate

        gate.refuse(who, int(found.group(1)), "no_such_case", attempted=request.path[:100])
    return NO_SUCH_CASE


def _refuse_case_route(error: HubError) -> Response | None:
    """A role without access to a case page (an administrator, an auditor) is refused like
    anyone else: recorded in the ledger, and answered as if the case did not exist."""
    who = requestctx.current_actor()
    values = request.view_args or {}
    case_id = next((values[k] for k in CASE_VARIABLES if isinstance(values.get(k), int)), None)
    if who is None or case_id is None:
        return None
    from cases import services as cases
    from consent import gate

    referral = cases.find_referral(case_id)
    facts = cases.case_facts(referral) if referral is not None else None
    known = facts is not None and gate.would_know(who, facts)
    gate.refuse(
        who,
        case_id,
        "no_permission" if known else "no_need_to_know" if facts else "no_such_case",
        area_id=facts.area_id if facts else None,
        attempted=request.endpoint or "",
    )
    if known:
        return None  # they know the case: a plain 403 tells them nothing new
    return _error_page(404, NO_SUCH_CASE)


def _render_error(status: int, title: str, detail: str) -> str:
    """The error page; for a server error, one that needs nothing from the database.

    A server error may be the database failing, and the signed-in header (name, to-do
    counts, menu) reads it: so a 5xx page is drawn as for someone not signed in, and if
    even that fails, as a page with no layout at all.
    """
    if status < 500:
        return render_template("web/error.html", status=status, title=title, detail=detail)
    try:
        return render_template(
            "web/error.html", status=status, title=title, detail=detail, current_actor=None
        )
    except Exception:
        log.exception("the error page could not be rendered; sending the bare one")
        request_id = str(g.get("request_id", ""))
        return BARE_ERROR_PAGE.format(
            title=escape(title),
            detail=escape(detail),
            status=status,
            reference=f" · reference {escape(request_id[:12])}" if request_id else "",
        )


def init_app(app: Flask) -> None:
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(Path(__file__).parent / "templates")),
            PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
        ]
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.register_blueprint(bp)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "current_actor": requestctx.current_actor(),
            "Permission": Permission,
            "Role": Role,
            "now_utc": now,
        }

    @app.template_filter("london")
    def _london(value: Any, fmt: str = "%d %B %Y %H:%M") -> str:
        if value is None:
            return ""
        text = to_london(value).strftime(fmt)
        return text.lstrip("0") if fmt.startswith("%d") else text  # "3 May", but "02:46"

    @app.template_filter("label_in")
    def _label_in(value: Any, labels: dict[Any, str]) -> str:
        """Show a stored code by its label: ``codes | map('label_in', labels)``."""
        return labels.get(value, str(value))

    @app.template_filter("day")
    def _day(value: Any) -> str:
        return "" if value is None else value.strftime("%d %B %Y").lstrip("0")

    @app.errorhandler(requestctx.Unauthenticated)
    def _unauthenticated(error: requestctx.Unauthenticated) -> Response:
        if _wants_json():
            response = problem(401, "Sign in required", error.message)
            response.headers["WWW-Authenticate"] = 'Bearer realm="marac-hub"'
            return response
        target = request.full_path if request.method == "GET" else None
        if target and target.endswith("?"):
            target = target[:-1]
        return redirect(url_for("auth.sign_in", next=target) if target else url_for("auth.sign_in"))

    @app.errorhandler(Refused)
    def _refused(error: Refused) -> Response:
        # The gate has recorded the refusal; a concealed one is the page of a missing case.
        return _error_page(error.status, error.message)

    @app.errorhandler(HubError)
    def _hub_error(error: HubError) -> Response:
        if _wants_json() and isinstance(error, ValidationFailed):
            return problem(error.status, error.title, error.message, errors=error.errors)
        if isinstance(error, requestctx.AccessDenied) and not isinstance(
            error, requestctx.InsufficientScope
        ):
            concealed = _refuse_case_route(error)
            if concealed is not None:
                return concealed
        return _error_page(error.status, error.message)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Response:
        return _error_page(
            400,
            "The form had expired or was sent from elsewhere. Go back, reload it and try again.",
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        messages = (getattr(error, "data", None) or {}).get("messages")
        if _wants_json() and status == 422 and messages:
            # webargs' field errors, e.g. {"json": {"victim": {"given_name": [...]}}}
            body = messages.get("json", messages) if isinstance(messages, dict) else messages
            return problem(422, "Invalid input", "Some fields are missing or wrong.", errors=body)
        if status == 404:
            detail = _record_guessed_case()
            if detail:
                return _error_page(404, detail, error.get_headers())
        return _error_page(status, None, error.get_headers())

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if is_connection_failure(error):
            # The database went away mid-request (a restart, a failover): say so, briefly.
            log.error("database connection failed during the request: %s", type(error).__name__)
            response = _error_page(503)
            response.headers["Retry-After"] = "30"
            return response
        log.exception("unhandled error")
        return _error_page(500)
