"""The receiving end of transfers between hubs: a token for a trusted hub, and the push.

A hub on this hub's trust list asks ``POST /api/v1/transfers/token`` for an access token
with a client-credentials grant, authenticating with a client assertion it signs with its
own key (RFC 7523, ``private_key_jwt``); then pushes the sealed package to
``POST /api/v1/transfers`` with that token and gets back this hub's signed receipt.
Refusals are RFC 9457 problem JSON with a ``code``: ``untrusted``, ``altered``, ``expired``,
``replayed``, ``not_for_us``, ``malformed`` or ``unknown_area``; each is in the ledger.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint

from audit.actions import LedgerAction
from audit.ledger import Subject, record
from hub.core.requestctx import actor
from hub.core.routes import public, require_scope
from transfers import between, peers

bp = Blueprint(
    "transfers_api",
    __name__,
    url_prefix="/api/v1/transfers",
    description="Transfers between hubs that trust each other (victim moves area).",
)
#: A sealed package is a few tens of kilobytes; the request limit bounds it anyway.
MAX_PACKAGE = 900_000


class TokenRequestSchema(ma.Schema):
    grant_type = ma.fields.String(
        required=True,
        validate=ma.validate.Equal("client_credentials"),
        metadata={"description": "Always client_credentials."},
    )
    client_assertion_type = ma.fields.String(
        required=True, validate=ma.validate.Equal(peers.ASSERTION_TYPE)
    )
    client_assertion = ma.fields.String(
        required=True,
        validate=ma.validate.Length(max=4000),
        metadata={
            "description": "A JWT (ES256) the calling hub signs with its key: iss and sub "
            "its identifier, aud this endpoint's address, exp within a minute."
        },
    )
    scope = ma.fields.String(load_default=peers.PUSH_SCOPE)


class TokenSchema(ma.Schema):
    access_token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True, metadata={"description": "Bearer."})
    expires_in = ma.fields.Integer(required=True)
    scope = ma.fields.String(required=True)


class PackageSchema(ma.Schema):
    package = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_PACKAGE),
        metadata={
            "description": "The sealed package: a compact JWE (ECDH-ES+A256KW, A256GCM) "
            "to this hub's encryption key, holding a compact JWS (ES256) by the sending hub."
        },
    )


class ReceiptSchema(ma.Schema):
    receipt = ma.fields.String(
        required=True,
        metadata={
            "description": "This hub's signed receipt (compact JWS, ES256): the package's "
            "identifier and SHA-256 digest, the transfer it was filed as, when."
        },
    )
    transfer = ma.fields.Integer(required=True)


def _federation() -> peers.Federation:
    return current_app.federation()  # type: ignore[attr-defined,no-any-return]


def _refused(refused: between.TransferRefused) -> Response:
    """An RFC 9457 problem with the refusal's code."""
    body = {
        "type": "about:blank",
        "title": refused.title,
        "status": refused.status,
        "detail": refused.message,
        "code": refused.code,
    }
    response = jsonify(body)
    response.status_code = refused.status
    response.mimetype = "application/problem+json"
    return response


@bp.route("/token", methods=["POST"])
@public
@bp.doc(security=[])
@bp.arguments(TokenRequestSchema, location="form")
@bp.response(200, TokenSchema)
@bp.alt_response(401, response="UNAUTHORIZED")
def token(args: dict[str, Any]) -> Any:
    """An access token for a trusted hub, to push transfers (client-credentials grant)."""
    fed = _federation()
    try:
        issued, peer = peers.issue_token(
            fed, args["client_assertion"], fed_url() + peers.TOKEN_PATH
        )
    except peers.PackageRefused as refused:
        # OAuth's invalid_client: a 401, whatever the reason (the code says which).
        answer = between.record_refused(fed, None, refused, step="token")
        answer.status, answer.title = 401, "The calling hub is not admitted"
        return _refused(answer)
    record(
        between.hub_actor(peer.id, peer.name),
        LedgerAction.TRANSFER_HUB_ADMITTED,
        Subject("hub", peer.id[:200]),
    )
    return {
        "access_token": issued,
        "token_type": "Bearer",
        "expires_in": peers.TOKEN_SECONDS,
        "scope": peers.PUSH_SCOPE,
    }


def fed_url() -> str:
    """This hub's own address, as the other hub addresses it."""
    return str(current_app.extensions["hub.settings"].base_url).rstrip("/") or request.host_url


@bp.route("", methods=["POST"])
@require_scope(peers.PUSH_SCOPE)
@bp.arguments(PackageSchema)
@bp.response(201, ReceiptSchema)
@bp.alt_response(409, response="CONFLICT")
@bp.alt_response(422, response="UNPROCESSABLE_ENTITY")
def push(args: dict[str, Any]) -> Any:
    """Receive a sealed transfer package from a trusted hub; answer a signed receipt."""
    who = actor()
    fed = _federation()
    sender = fed.peer((who.client_id or "").removeprefix("hub:"))
    try:
        if sender is None:  # a partner system's token, not a trusted hub's
            raise between.refuse_untrusted(fed, who)
        found = between.receive_package(who, fed, args["package"], sender=sender)
    except between.TransferRefused as refused:
        return _refused(refused)
    return {"receipt": found.receipt, "transfer": found.transfer.id}
