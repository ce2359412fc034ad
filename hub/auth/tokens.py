"""Bearer access tokens from partner systems, checked with joserfc against their issuer's keys.

A registered API client belongs to an agency; its agency's identity provider issues its
tokens (client-credentials grant). The token is accepted when its signature verifies
against that provider's key set (public-key algorithms only: ``none`` and HMAC are refused
before any key is looked at; the keys are fetched with no transaction open, see
``hub.auth.oidc``), ``iss`` is the provider, ``aud`` names the hub API, ``exp``
and ``nbf`` hold, and its client is registered and enabled. Its scopes are cut down to
those the client is registered for.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from hub.auth import oidc
from hub.auth.identity import ProviderConfig, api_client_for_token, providers_for_issuer
from hub.core.access import Actor

log = logging.getLogger(__name__)


class BearerRefused(Exception):
    """The token cannot be accepted; becomes a 401 with a WWW-Authenticate challenge."""

    status = 401

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class IssuerUnavailable(Exception):
    """The issuer's keys cannot be fetched now; the caller may retry later (503)."""


_REASONS = {
    "malformed_token": "The access token is not a signed JWT.",
    "unsigned_token": "Unsigned tokens (alg none) are not accepted.",
    "algorithm_refused": "The token's signature algorithm is not accepted; only public-key "
    "signatures are.",
    "unknown_key": "The token was signed with a key its issuer does not publish.",
    "bad_signature": "The token's signature does not verify.",
}


def unverified_claims(token: str) -> Mapping[str, Any]:
    try:
        encoded = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, IndexError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _numeric(claims: Mapping[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def token_scopes(claims: Mapping[str, Any]) -> set[str]:
    """Scopes as providers write them: ``scope`` (RFC 9068), ``scp``, or Entra ID app roles."""
    found: set[str] = set()
    for name in ("scope", "scp", "roles"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
    return found


def authenticate(token: str, *, audience: str, request_id: str = "") -> Actor:
    """Turn a bearer token into the agency's service actor, or raise BearerRefused."""
    if token.count(".") != 2:
        raise BearerRefused("invalid_token", _REASONS["malformed_token"])
    header = oidc.unverified_header(token)
    if header.get("alg") == "none":
        raise BearerRefused("invalid_token", _REASONS["unsigned_token"])
    if header.get("alg") not in oidc.ASYMMETRIC_ALGORITHMS:
        raise BearerRefused("invalid_token", _REASONS["algorithm_refused"])
    issuer = unverified_claims(token).get("iss")
    providers = (
        [
            ProviderConfig.of(p)
            for p in providers_for_issuer(issuer)
            if not p.is_disabled and not p.agency.is_disabled
        ]
        if isinstance(issuer, str)
        else []
    )
    if not providers:
        raise BearerRefused(
            "invalid_token",
            "The token's issuer is not an agency's identity provider registered with the hub.",
        )
    # Cached keys are filed under every provider's version: an edit to any of them (or
    # "fetch keys again") makes each process fetch the issuer's keys afresh.
    stamp = "+".join(sorted(p.stamp for p in providers))
    try:
        metadata = oidc.directory().metadata(issuer, stamp)
        claims = oidc.verify_signature(token, metadata.jwks_uri, stamp)
    except oidc.ProviderUnavailable as error:
        log.warning("cannot check an access token: %s", error.problem)
        raise IssuerUnavailable(error.problem) from None
    except oidc.CallbackRefused as refused:
        raise BearerRefused(
            "invalid_token", _REASONS.get(refused.reason, "The access token cannot be verified.")
        ) from None
    moment = int(time.time())
    if claims.get("iss") != issuer:
        raise BearerRefused("invalid_token", "The token's issuer does not match.")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else (aud if isinstance(aud, list) else [])
    if audience not in audiences:
        raise BearerRefused("invalid_token", "The token is not meant for this API (aud).")
    expires = _numeric(claims, "exp")
    if expires is None or expires <= moment - oidc.LEEWAY:
        raise BearerRefused("invalid_token", "The token has expired.")
    not_before = _numeric(claims, "nbf")
    if not_before is not None and not_before > moment + oidc.LEEWAY:
        raise BearerRefused("invalid_token", "The token is not valid yet (nbf).")
    issued = _numeric(claims, "iat")
    if issued is not None and issued > moment + oidc.LEEWAY:
        raise BearerRefused("invalid_token", "The token was issued in the future (iat).")
    client_id = next(
        (
            v
            for v in (claims.get("client_id"), claims.get("azp"), claims.get("appid"))
            if isinstance(v, str) and v
        ),
        "",
    )
    client = api_client_for_token([p.agency_id for p in providers], client_id)
    if client is None or client.is_disabled or client.agency.is_disabled:
        raise BearerRefused(
            "invalid_token",
            "The token's client is not a registered, enabled API client of this agency.",
        )
    extra = {"request_id": request_id} if request_id else {}
    return Actor(
        kind="service",
        member_id=None,
        agency_id=client.agency_id,
        area_id=client.agency.area_id,
        roles=frozenset(),
        name=client.name,
        agency_name=client.agency.name,
        client_id=str(client.id),
        scopes=frozenset(token_scopes(claims) & client.scope_set),
        **extra,
    )
