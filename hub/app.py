"""create_app(): the only module that wires every package together."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from flask_wtf.csrf import CSRFProtect
from jinja2.bccache import Bucket, BytecodeCache

from audit.directory import Erased, RevealReason
from hub.core import db as dbmod
from hub.core import inputs
from hub.core.access import Permission
from hub.core.config import Settings
from hub.core.errors import BadBody
from hub.core.logs import configure_logging
from hub.core.routes import public

log = logging.getLogger(__name__)
csrf = CSRFProtect()


class _ProcessBytecodeCache(BytecodeCache):
    """Compiled templates shared by every app in the process (keyed by name and source
    checksum): a second app (a test, a worker restart in place) does not compile again."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        found = self._store.get(bucket.key)
        if found is not None:
            bucket.bytecode_from_string(found)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE = _ProcessBytecodeCache()


class _TryAgain(Exception):
    """The request lost its database connection before doing anything: run it once more."""


#: Seconds before a request that lost its connection is tried again: long enough for the
#: pool to reconnect to a database that has just restarted.
RETRY_PAUSE_SECONDS = 1.0


class HubFlask(Flask):
    """Flask with the hub's one commit point per request.

    The request's unit of work commits after the view and its error handlers have
    produced a response, and only when that response is not an error; side effects queued
    during the request run only after the commit. A failing commit becomes a 500.

    A request whose database connection failed before any statement of it completed (a
    database restart, a connection the server ended) is run once more, on a new
    connection, after a short pause: nothing of it happened, so nothing can happen twice.
    """

    _ledger_key: Any = None
    jinja_options = {**Flask.jinja_options, "bytecode_cache": _BYTECODE}

    def ledger_key(self) -> Any:
        """The checkpoint signing key from configuration (generated once off production)."""
        if self._ledger_key is None:
            from audit.services import load_signing_key

            settings = self.extensions["hub.settings"]
            self._ledger_key = load_signing_key(
                key=settings.ledger_signing_key,
                key_file=settings.ledger_signing_key_file,
                origin=settings.ledger_origin,
                instance_path=settings.instance_path,
                production=settings.is_production,
            )
        return self._ledger_key

    _federation: Any = None

    def federation(self) -> Any:
        """This hub's transfer keys and the hubs it trusts (keys generated off production)."""
        if self._federation is None:
            from transfers.peers import federation_from

            self._federation = federation_from(self.extensions["hub.settings"])
        return self._federation

    def full_dispatch_request(self) -> Response:
        try:
            return self._dispatch_in_unit(may_retry=True)
        except _TryAgain as again:
            log.warning("database connection lost before the request did anything; retrying")
            time.sleep(RETRY_PAUSE_SECONDS)
            request_id = g.get("request_id")
            for name in list(vars(g)):
                delattr(g, name)  # nothing the first attempt learnt carries over
            g.request_id = request_id
            del again
            return self._dispatch_in_unit(may_retry=False)

    def _dispatch_in_unit(self, *, may_retry: bool) -> Response:
        uow, token = dbmod.begin_request_unit(self.extensions["hub.db"])
        g.hub_may_retry = may_retry
        try:
            response = super().full_dispatch_request()
            if response.status_code < 400 and not g.get("hub_rollback", False):
                uow.commit()
            else:
                uow.rollback()
                if response.status_code < 500 and not g.get("hub_error_page", False):
                    # The view itself answered 4xx (a form shown again with its errors): what
                    # it shows was disclosed, so its ledger entries stay, in their own
                    # transaction. Error pages show no case data and keep none.
                    uow.keep_disclosures(status=response.status_code)
            return response
        except BaseException:
            uow.rollback()
            raise
        finally:
            dbmod.end_request_unit(uow, token)

    def handle_user_exception(self, e: Exception) -> Any:
        if (
            g.get("hub_may_retry", False)
            and dbmod.is_connection_failure(e)
            and dbmod.current_unit().has_done_nothing()
        ):
            raise _TryAgain from e
        # Whatever an error handler renders is an error page, never case data.
        g.hub_error_page = True
        return super().handle_user_exception(e)


def create_app(config: Settings | dict[str, Any] | None = None) -> HubFlask:
    """Build the application from settings (the environment by default)."""
    if config is None:
        settings = Settings.from_env()
    elif isinstance(config, dict):
        settings = Settings.from_env({k: str(v) for k, v in config.items()})
    else:
        settings = config
    settings = settings.resolved()
    configure_logging(settings.log_level)

    app = HubFlask(
        "hub",
        instance_path=str(Path(settings.instance_path).resolve()),
        static_folder=str(Path(__file__).parent / "web" / "static"),
    )
    # Before any route is added: every <int:...> id stops at what the databases can hold.
    app.url_map.converters["int"] = inputs.BoundedIntConverter
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        SESSION_COOKIE_NAME="__Host-hub" if settings.cookie_secure else "hub",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        WTF_CSRF_TIME_LIMIT=None,  # the session's own idle timeout bounds the token
        WTF_CSRF_SSL_STRICT=settings.cookie_secure,
        HUB_SETTINGS=settings,
        TESTING=settings.env == "test",
    )
    app.extensions["hub.settings"] = settings
    database = dbmod.Database(settings.database_url)
    database.bus = _wire_events()
    app.extensions["hub.db"] = database
    app.extensions["hub.events"] = database.bus
    dbmod.bind_database(database)

    csrf.init_app(app)

    @app.before_request
    def _request_id() -> None:
        g.setdefault("request_id", uuid.uuid4().hex)  # a retried request keeps its own

    @app.before_request
    def _input_within_limits() -> None:
        if request.is_json and request.content_length != 0:
            try:
                inputs.check_json(request.get_data(cache=True))
            except inputs.UnsafeJson as error:
                raise BadBody(f"The request body cannot be read: {error.reason}.") from None
        for source, values in (("query", request.args), ("form", request.form)):
            for key, value in values.items(multi=True):
                reason = inputs.unstorable(key) or inputs.unstorable(value)
                if reason:
                    raise BadBody(f"The {source} cannot be read: {reason}.")

    @app.after_request
    def _security_headers(response: Response) -> Response:
        h = response.headers
        h.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'",
        )
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "no-referrer"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), interest-cohort=()"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["X-Request-Id"] = g.get("request_id", "")
        if settings.cookie_secure:
            h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        if request.endpoint not in {"static", "web.assets"}:
            # Pages carry personal data: never keep them in any cache.
            h["Cache-Control"] = "no-store"
            h["Pragma"] = "no-cache"
        return response

    from hub.auth import views as auth_views
    from hub.web import views as web_views

    web_views.init_app(app)
    auth_views.init_app(app)

    from hub.auth import admin as identity_admin
    from hub.auth import api as hub_api
    from hub.auth import sso

    sso.init_app(app)
    identity_admin.init_app(app)
    hub_api.init_app(app)

    from agencies import views as agency_views

    app.register_blueprint(agency_views.bp)

    from todo import views as task_views

    task_views.init_app(app)

    from cases import api as referral_api
    from cases import views as referral_views

    app.register_blueprint(referral_views.bp)
    hub_api.register_api_blueprint(app, referral_api.bp)

    from audit import views as audit_views

    audit_views.init_app(app, _Cases())

    from meetings import views as meeting_views

    meeting_views.init_app(app)

    from returns import api as return_api
    from returns import views as return_views

    return_views.init_app(app)
    hub_api.register_api_blueprint(app, return_api.bp)

    from subject_access import views as subject_access_views

    subject_access_views.init_app(app)

    from transfers import api as transfer_api
    from transfers import views as transfer_views

    transfer_views.init_app(app)
    hub_api.register_api_blueprint(app, transfer_api.bp)

    from retention import views as retention_views

    retention_views.init_app(app)

    _navigation(app)
    app.extensions["hub.names"] = _names

    # Flask's own static route is open to anyone: say so explicitly.
    app.view_functions["static"] = public(app.view_functions["static"])

    @app.teardown_appcontext
    def _teardown(_exc: BaseException | None) -> None:
        # Units of work close themselves; nothing is left open across requests.
        return None

    return app


def _wire_events() -> Any:
    """Subscribe every package's handlers to the events of the packages below it: the one
    place where a lower package's action causes work above it."""
    from cases.events import CaseGiven
    from hub.core.events import Bus
    from meetings.events import (
        ActionAgreed,
        CasesCirculated,
        MeetingClosed,
        MinutesAmended,
        MinutesDistributed,
    )
    from todo import cases as case_tasks
    from todo import meetings as meeting_tasks

    bus = Bus()
    bus.subscribe(CaseGiven, case_tasks.case_given)
    bus.subscribe(CasesCirculated, meeting_tasks.cases_circulated)
    bus.subscribe(ActionAgreed, meeting_tasks.action_agreed)
    bus.subscribe(MeetingClosed, meeting_tasks.meeting_closed)
    bus.subscribe(MinutesDistributed, meeting_tasks.minutes_distributed)
    bus.subscribe(MinutesAmended, meeting_tasks.minutes_amended)
    return bus


#: (endpoint, text, permission, home-page description); shown when the actor may use it.
NAVIGATION: list[tuple[str, str, Permission, str]] = [
    (
        "referrals.cases",
        "Cases",
        Permission.REFERRALS_READ,
        "Every case you may open: shared with your agency, given to it, or on your team.",
    ),
    (
        "tasks.my_list",
        "To-do",
        Permission.TASKS_READ,
        "Your tasks for each case, your agency's queue, and what is overdue.",
    ),
    (
        "referrals.index",
        "Referrals",
        Permission.REFERRALS_READ,
        "Refer a case, continue a draft, and see your agency's referrals.",
    ),
    (
        "referrals.inbox",
        "Inbox",
        Permission.REFERRALS_TRIAGE,
        "Referrals waiting for the coordinator: accept, reject or defer.",
    ),
    (
        "referrals.approvals",
        "Approvals",
        Permission.CONSENT_APPROVE,
        "Requests from your agency to share a case without consent.",
    ),
    (
        "meetings.index",
        "Meetings",
        Permission.MEETINGS_READ,
        "MARAC conferences: agendas, your agency's research, the meeting and its minutes.",
    ),
    (
        "returns.index",
        "Returns",
        Permission.RETURNS_READ,
        "The quarterly MARAC data return for SafeLives: counts per meeting, and the exports.",
    ),
    (
        "returns.settings",
        "Return settings",
        Permission.RETURNS_SETTINGS,
        "The area's population, repeat definition and the national figures for comparison.",
    ),
    (
        "retention.queue",
        "Retention",
        Permission.RETENTION_MANAGE,
        "Records whose retention period has ended: confirm destruction or keep them longer; "
        "legal holds.",
    ),
    (
        "retention.settings",
        "Retention policy",
        Permission.RETENTION_SETTINGS,
        "How long the area keeps each kind of record, and what happens at the end.",
    ),
    (
        "agencies.agency_list",
        "Agencies",
        Permission.AGENCIES_READ,
        "Partner agencies, their type and their information sharing protocol.",
    ),
    (
        "agencies.member_list",
        "Members",
        Permission.MEMBERS_MANAGE,
        "Add people, give them roles, and disable those who leave.",
    ),
    (
        "referrals.risk_settings",
        "Risk settings",
        Permission.AGENCIES_MANAGE,
        "The area's referral criteria, risk bands and the risk checklists it offers.",
    ),
    (
        "audit.search",
        "Ledger",
        Permission.AUDIT_READ,
        "Who saw what, when and why: search and verify the disclosure ledger.",
    ),
    (
        "subject_access.index",
        "Subject access",
        Permission.SUBJECT_ACCESS,
        "Requests from people to see what the MARAC holds about them, due within a month.",
    ),
    (
        "retention.files",
        "Subject access retention",
        Permission.RETENTION_FILES,
        "Subject access files whose retention period has ended: destroy or keep them longer.",
    ),
    (
        "identity.provider_list",
        "Sign-in",
        Permission.IDP_MANAGE,
        "Connect agencies' own identity providers, and register partner systems for the API.",
    ),
    (
        "identity.approvals",
        "Sign-in requests",
        Permission.MEMBERS_APPROVE,
        "People who signed in with their agency account and wait for your approval.",
    ),
]


def _navigation(app: Flask) -> None:
    from flask import url_for

    from hub.core.requestctx import current_actor

    def visible() -> list[tuple[str, str, Permission, str]]:
        who = current_actor()
        if who is None:
            return []
        return [item for item in NAVIGATION if who.can(item[2]) and item[0] in app.view_functions]

    @app.context_processor
    def _nav() -> dict[str, Any]:
        def hub_navigation() -> list[dict[str, Any]]:
            return [
                {
                    "href": url_for(e),
                    "text": t,
                    "active": (request.endpoint or "").split("_")[0] == e.split("_")[0],
                }
                for e, t, _p, _d in visible()
            ]

        def home_cards() -> list[dict[str, str]]:
            return [{"href": url_for(e), "title": t, "text": d} for e, t, _p, d in visible()]

        return {"hub_navigation": hub_navigation, "home_cards": home_cards}


class _Cases:
    """The auditor's directory of cases (``audit.directory.CaseDirectory``): references
    and reveal reasons, looked up for the auditor's own area only."""

    def case_id(self, reference: str, area_id: int) -> int | None:
        from sqlalchemy import select

        from cases.models import Referral
        from hub.core.db import session
        from retention.models import Erasure

        found = (
            session()
            .execute(
                select(Referral.id).where(
                    Referral.reference == reference, Referral.area_id == area_id
                )
            )
            .scalar_one_or_none()
        )
        if found is None:  # a case erased under the retention policy keeps its ledger entries
            found = (
                session()
                .execute(
                    select(Erasure.case_id).where(
                        Erasure.reference == reference, Erasure.area_id == area_id
                    )
                )
                .scalar_one_or_none()
            )
        return found

    def references(self, case_ids: Iterable[int], area_id: int) -> dict[int, str]:
        from sqlalchemy import select

        from cases.models import Referral
        from hub.core.db import session

        wanted = list(set(case_ids))
        rows = session().execute(
            select(Referral.id, Referral.reference).where(
                Referral.id.in_(wanted), Referral.area_id == area_id
            )
        )
        return {row[0]: row[1] for row in rows}

    def reveal_reason(self, reveal_id: int, area_id: int) -> RevealReason | None:
        from sqlalchemy import select

        from cases.models import Referral, WhereaboutsReveal
        from hub.core.db import session

        row = (
            session()
            .execute(
                select(WhereaboutsReveal.reason, WhereaboutsReveal.revealed_at)
                .join(Referral, Referral.id == WhereaboutsReveal.referral_id)
                .where(WhereaboutsReveal.id == reveal_id, Referral.area_id == area_id)
            )
            .one_or_none()
        )
        return None if row is None else RevealReason(row[0], row[1])

    def erasures(self, case_ids: Iterable[int], area_id: int) -> dict[int, Erased]:
        from sqlalchemy import select

        from hub.core.db import session
        from retention.models import Erasure

        wanted = sorted(set(case_ids))
        rows = session().execute(
            select(Erasure).where(Erasure.case_id.in_(wanted), Erasure.area_id == area_id)
        )
        return {
            e.case_id: Erased(e.reference, e.policy_version, e.erased_at) for e in rows.scalars()
        }


def _names(kind: str, ids: set[int]) -> dict[int, str]:
    """Display names for identifiers in ledger entries (the ledger itself holds only ids)."""
    from sqlalchemy import select

    from agencies.models import Agency, Member
    from hub.core.db import session

    if not ids:
        return {}
    model = {"member": Member, "agency": Agency}.get(kind)
    if model is None:
        return {}
    rows = session().execute(select(model.id, model.name).where(model.id.in_(ids))).all()
    return {row[0]: row[1] for row in rows}
