"""The JSON API for partner systems (flask-smorest), mounted at /api, OpenAPI at /api/openapi.json.

Callers send ``Authorization: Bearer <JWT>`` issued by their agency's identity provider.
Errors are RFC 9457 problem JSON: 401 with a ``WWW-Authenticate`` challenge for a missing
or bad token, 403 ``insufficient_scope`` when the token lacks the route's scope.
"""

from __future__ import annotations

import functools
import http
from typing import Any

import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, Response, current_app, g, request
from flask_smorest import Api, Blueprint

from hub.auth import tokens
from hub.core.requestctx import InsufficientScope, actor, set_actor
from hub.core.routes import declared_access, public, require_scope

REALM = "marac-hub"


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem: every error the API answers, as ``application/problem+json``."""

    type = ma.fields.String(
        required=True, metadata={"description": "Always about:blank: the status says it all."}
    )
    title = ma.fields.String(required=True, metadata={"description": "The status in words."})
    status = ma.fields.Integer(required=True, metadata={"description": "The HTTP status."})
    detail = ma.fields.String(metadata={"description": "What went wrong, for a person."})
    errors = ma.fields.Raw(
        metadata={"description": "For 422: the fields that are missing or wrong, and why."}
    )
    code = ma.fields.String(
        metadata={
            "description": "For a refused transfer package: untrusted, altered, expired, "
            "replayed, not_for_us, malformed or unknown_area."
        }
    )
    required_scopes = ma.fields.List(
        ma.fields.String(), metadata={"description": "For 403: the scopes the token lacks."}
    )


PROBLEM = "application/problem+json"
#: Errors any operation may answer, besides those its route declares.
COMMON_ERRORS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    413: "REQUEST_ENTITY_TOO_LARGE",
    429: "TOO_MANY_REQUESTS",
    503: "SERVICE_UNAVAILABLE",
}


class HubApi(Api):  # type: ignore[misc]
    """flask-smorest without its app-wide error handler, and with problem JSON documented.

    Its handler would answer every error of the whole site (HTML pages too) with its own
    JSON and drop werkzeug's headers (a 405 loses ``Allow``). The shell's handlers already
    answer under /api/ with problem JSON and keep those headers. Error responses in the
    document are that problem JSON, under its own media type.
    """

    ERROR_SCHEMA = ProblemSchema

    def _register_error_handlers(self) -> None:
        return None

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["content"] = {PROBLEM: {"schema": "ProblemSchema"}}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            "DEFAULT_ERROR",
            {"description": "An error", "content": {PROBLEM: {"schema": "ProblemSchema"}}},
            lazy=True,
        )


class EveryOperation(BasePlugin):  # type: ignore[misc]
    """Each operation takes a bearer token and answers errors as problem JSON.

    The whole API is for partner systems' tokens: no operation under /api/v1 is public but
    the token endpoint for other hubs (``/api/v1/transfers/token``), where a trusted hub
    authenticates with a client assertion signed by its key.
    """

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        for operation in (operations or {}).values():
            operation.setdefault("security", [{"bearerAuth": []}])
            responses = operation.setdefault("responses", {})
            for status, name in COMMON_ERRORS.items():
                responses.setdefault(str(status), name)


api_v1 = Blueprint(
    "api_v1",
    __name__,
    url_prefix="/api/v1",
    description="Partner systems' access to the hub, as their agency.",
)


class AgencySchema(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class WhoAmISchema(ma.Schema):
    client = ma.fields.String(
        required=True, metadata={"description": "The hub's registration number of the API client."}
    )
    name = ma.fields.String(required=True, metadata={"description": "The system's name."})
    agency = ma.fields.Nested(AgencySchema, required=True)
    scopes = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={
            "description": "What the token lets it do: its scopes, cut down to the client's."
        },
    )


@api_v1.route("/whoami")
@require_scope()
@api_v1.response(200, WhoAmISchema)
def whoami() -> dict[str, Any]:
    """Which agency and scopes this token acts with."""
    who = actor()
    return {
        "client": who.client_id,
        "name": who.name,
        "agency": {"id": who.agency_id, "name": who.agency_name},
        "scopes": sorted(who.scopes),
    }


def _challenge(
    error: str | None = None, description: str | None = None, scope: str | None = None
) -> str:
    parts = [f'realm="{REALM}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="' + description.replace('"', "'") + '"')
    if scope:
        parts.append(f'scope="{scope}"')
    return "Bearer " + ", ".join(parts)


def load_api_actor() -> None:
    """Under /api/, the actor comes from the bearer token only, never from a browser session."""
    if not request.path.startswith("/api/"):
        return
    set_actor(None)
    view = current_app.view_functions.get(request.endpoint or "")
    declared = declared_access(view) if view is not None else None
    if declared is not None and declared[0] == "public":
        return
    header = request.headers.get("Authorization", "")
    if not header:
        return  # the route's declaration answers 401 if it needs a token
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise tokens.BearerRefused("invalid_request", "Send the token as: Bearer <token>.")
    settings = current_app.extensions["hub.settings"]
    if _claims_issuer(token.strip()) == settings.hub_id:
        set_actor(_hub_peer(token.strip()))
        return
    set_actor(
        tokens.authenticate(
            token.strip(), audience=settings.api_audience, request_id=g.get("request_id", "")
        )
    )


def _claims_issuer(token: str) -> str:
    claims = tokens.unverified_claims(token)
    issuer = claims.get("iss")
    return issuer if isinstance(issuer, str) else ""


def _hub_peer(token: str) -> Any:
    """A token this hub issued itself, to a hub on its trust list, for pushing transfers."""
    from transfers import between, peers

    try:
        peer = peers.verify_token(current_app.federation(), token)  # type: ignore[attr-defined]
    except peers.PackageRefused as refused:
        raise tokens.BearerRefused("invalid_token", refused.detail) from None
    return between.hub_actor(peer.id, peer.name)


def register_api_blueprint(app: Flask, blueprint: Blueprint) -> None:
    """Mount a package's flask-smorest blueprint (its ``api.py``) on the hub API.

    Routes under /api/ take bearer tokens only (browser cookies are ignored there), so
    there is no form to forge: CSRF checks do not apply.
    """
    app.extensions["hub.api"].register_blueprint(blueprint)
    app.extensions["csrf"].exempt(blueprint)


def _plain(view: Any) -> Any:
    @functools.wraps(view)
    def call(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    return call


def init_app(app: Flask) -> None:
    from hub.web.views import problem

    app.config.update(
        API_TITLE="MARAC Hub API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = HubApi(
        app,
        spec_kwargs={
            "info": {"description": __doc__},
            "extra_plugins": [EveryOperation()],
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    app.extensions["hub.api"] = api
    register_api_blueprint(app, api_v1)
    for endpoint in list(app.view_functions):
        if endpoint.startswith("api-docs."):
            # The OpenAPI document is open to anyone; flask-smorest's view is a bound method,
            # so wrap it in a function that can carry the declaration.
            app.view_functions[endpoint] = public(_plain(app.view_functions[endpoint]))
    app.before_request(load_api_actor)

    @app.errorhandler(tokens.BearerRefused)
    def _bearer_refused(error: tokens.BearerRefused) -> Response:
        response = problem(401, "Invalid access token", error.description)
        response.headers["WWW-Authenticate"] = _challenge(error.error, error.description)
        return response

    @app.errorhandler(tokens.IssuerUnavailable)
    def _issuer_unavailable(_error: tokens.IssuerUnavailable) -> Response:
        response = problem(
            503,
            "Cannot check the access token now",
            "The agency's identity provider cannot be reached to check this "
            "token. Try again in a minute.",
        )
        response.headers["Retry-After"] = "60"
        return response

    @app.errorhandler(InsufficientScope)
    def _insufficient_scope(error: InsufficientScope) -> Response:
        response = problem(
            403, "Insufficient scope", error.message, required_scopes=list(error.scopes)
        )
        response.headers["WWW-Authenticate"] = _challenge(
            "insufficient_scope", "The token lacks a scope this needs.", " ".join(error.scopes)
        )
        return response
