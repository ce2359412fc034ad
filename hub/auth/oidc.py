"""OpenID Connect with agencies' own providers: discovery, key sets, the code flow, ID tokens.

Authorization code flow with PKCE (S256), state and nonce, through Authlib's OAuth2 client.
The ID token is checked with joserfc: signature against the provider's key set (fetched
again when a token names a key id the hub has not seen), issuer, audience, expiry,
issued-at and nonce. Claims beyond ``sub`` come from the userinfo endpoint.

Each authorization request is kept on the server (``OidcRequest``) and consumed by the
first answer, so a replayed callback finds nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    DecodeError,
    InvalidKeyIdError,
    JoseError,
    UnsupportedAlgorithmError,
)
from joserfc.jwk import Key, KeySet
from sqlalchemy import delete

from hub.auth.identity import (
    FederatedClaims,
    IdentityProvider,
    SecretUnavailable,
    client_secret,
)
from hub.auth.models import OidcRequest
from hub.core import db
from hub.core.clock import now

log = logging.getLogger(__name__)

#: Signature algorithms accepted from providers: public-key ones only, so neither "none"
#: nor an HMAC keyed with a provider's public key can ever verify.
ASYMMETRIC_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
#: Seconds of clock difference tolerated between the hub and a provider.
LEEWAY = 60
#: How long a provider's discovery document is trusted before it is fetched again.
DISCOVERY_SECONDS = 3600
#: A key id still unknown right after fetching the key set is not fetched for again soon,
#: and the set is fetched at most once a second, so random key ids cannot hammer a provider.
UNKNOWN_KID_SECONDS = 60
MIN_REFETCH_SECONDS = 1.0
#: How long a person has to come back from their provider.
REQUEST_MINUTES = 10
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered with something unusable."""

    def __init__(self, problem: str, provider: IdentityProvider | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.provider = provider


class CallbackRefused(Exception):
    """The answer from the provider cannot be accepted; ``reason`` goes into the ledger."""

    def __init__(self, reason: str, provider: IdentityProvider | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider = provider


# --- Discovery and keys ---------------------------------------------------------------------


@dataclass(frozen=True)
class Metadata:
    """The parts of a provider's discovery document the hub uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    end_session_endpoint: str | None
    code_challenge_methods: tuple[str, ...]
    id_token_algorithms: tuple[str, ...]
    token_auth_methods: tuple[str, ...]

    @property
    def token_auth_method(self) -> str:
        methods = self.token_auth_methods or ("client_secret_basic",)
        return (
            "client_secret_basic"
            if "client_secret_basic" in methods
            else (
                "client_secret_post" if "client_secret_post" in methods else "client_secret_basic"
            )
        )


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


def _endpoint_problem(name: str, value: Any, issuer: str) -> str | None:
    if not isinstance(value, str) or not value:
        return f"discovery has no {name}"
    parts = urlsplit(value)
    issuer_scheme = urlsplit(issuer).scheme
    if parts.scheme not in ("https", issuer_scheme) or not parts.netloc:
        return f"{name} is not an absolute https URL"
    return None


def parse_discovery(issuer: str, document: Any) -> tuple[Metadata | None, list[str]]:
    """Read a discovery document; return the metadata (None if unusable) and the problems."""
    if not isinstance(document, Mapping):
        return None, ["discovery is not a JSON object"]
    problems = []
    if document.get("issuer") != issuer:
        problems.append(
            "discovery names a different issuer "
            f"({str(document.get('issuer'))[:120]!r}, expected {issuer!r})"
        )
    for name in REQUIRED_ENDPOINTS:
        problem = _endpoint_problem(name, document.get(name), issuer)
        if problem:
            problems.append(problem)
    if problems:
        return None, problems

    def strings(name: str) -> tuple[str, ...]:
        value = document.get(name)
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

    def optional(name: str) -> str | None:
        value = document.get(name)
        return (
            value
            if isinstance(value, str) and _endpoint_problem(name, value, issuer) is None
            else None
        )

    return Metadata(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=optional("userinfo_endpoint"),
        end_session_endpoint=optional("end_session_endpoint"),
        code_challenge_methods=strings("code_challenge_methods_supported"),
        id_token_algorithms=strings("id_token_signing_alg_values_supported"),
        token_auth_methods=strings("token_endpoint_auth_methods_supported"),
    ), []


def parse_key_set(document: Any) -> tuple[KeySet | None, list[str]]:
    """Read a JWKS: signing keys of public-key types only (an HMAC key would be a trap)."""
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        return None, ["the key set is not a JSON object with a keys list"]
    usable = [
        k
        for k in document["keys"]
        if isinstance(k, Mapping)
        and k.get("kty") in ("RSA", "EC", "OKP")
        and k.get("use", "sig") == "sig"
    ]
    if not usable:
        return None, ["the key set has no signing keys"]
    try:
        keys = KeySet.import_key_set({"keys": [dict(k) for k in usable]})  # type: ignore[typeddict-item]
    except (JoseError, ValueError, TypeError) as error:
        return None, [f"the key set cannot be read ({type(error).__name__})"]
    return keys, []


@dataclass
class _KeyCache:
    keys: KeySet | None = None
    fetched_at: float = 0.0
    unknown: dict[str, float] = field(default_factory=dict)


class Directory:
    """Per application: each provider's discovery document and key set, fetched lazily.

    This is the hub's one client registration per provider; Authlib sessions are made from
    it for each authorization request and code exchange.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._metadata: dict[str, tuple[Metadata, float]] = {}
        self._keys: dict[str, _KeyCache] = {}

    def _get_json(self, url: str, what: str) -> Any:
        try:
            response = requests.get(
                url, timeout=self.timeout, headers={"Accept": "application/json"}
            )
        except requests.RequestException as error:
            raise ProviderUnavailable(f"{what} unreachable ({type(error).__name__})") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"{what} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise ProviderUnavailable(f"{what} is not JSON") from None

    def metadata(self, issuer: str, *, refresh: bool = False) -> Metadata:
        with self._lock:
            cached = self._metadata.get(issuer)
        if cached and not refresh and time.monotonic() - cached[1] < DISCOVERY_SECONDS:
            return cached[0]
        found, problems = parse_discovery(
            issuer, self._get_json(discovery_url(issuer), "discovery")
        )
        if found is None:
            raise ProviderUnavailable("; ".join(problems))
        with self._lock:
            self._metadata[issuer] = (found, time.monotonic())
        return found

    def key_set(self, jwks_uri: str, *, refresh: bool = False) -> KeySet:
        with self._lock:
            cache = self._keys.setdefault(jwks_uri, _KeyCache())
            current = cache.keys
        if current is not None and not refresh:
            return current
        keys, problems = parse_key_set(self._get_json(jwks_uri, "key set"))
        if keys is None:
            raise ProviderUnavailable("; ".join(problems))
        with self._lock:
            cache.keys, cache.fetched_at = keys, time.monotonic()
            cache.unknown.clear()
        return keys

    def verification_key(self, jwks_uri: str, kid: str | None, alg: str) -> Key | None:
        """The provider's key for a token; a key id not seen before fetches the set again."""
        keys = self.key_set(jwks_uri)
        found = _pick_key(keys, kid, alg)
        if found is not None or kid is None:
            return found
        with self._lock:
            cache = self._keys[jwks_uri]
            recently = cache.unknown.get(kid, 0.0)
            fetched_at = cache.fetched_at
        if (
            time.monotonic() - recently < UNKNOWN_KID_SECONDS
            or time.monotonic() - fetched_at < MIN_REFETCH_SECONDS
        ):
            return None  # asked moments ago: do not hammer the provider
        keys = self.key_set(jwks_uri, refresh=True)
        found = _pick_key(keys, kid, alg)
        if found is None:
            with self._lock:
                cache.unknown[kid] = time.monotonic()
        return found

    def forget(self, issuer: str) -> None:
        with self._lock:
            cached = self._metadata.pop(issuer, None)
            if cached:
                self._keys.pop(cached[0].jwks_uri, None)


def _pick_key(keys: KeySet, kid: str | None, alg: str) -> Key | None:
    try:
        return keys.get_by_kid(kid, {"alg": alg, "use": "sig"})
    except InvalidKeyIdError:
        return None


def directory() -> Directory:
    from flask import current_app

    found: Directory | None = current_app.extensions.get("hub.oidc")
    if found is None:
        settings = current_app.extensions["hub.settings"]
        found = current_app.extensions.setdefault(
            "hub.oidc", Directory(timeout=settings.oidc_timeout_seconds)
        )
    return found


# --- Checking a provider before anyone relies on it -----------------------------------------


@dataclass
class Finding:
    level: str  # "ok", "warning" or "problem"
    message: str


def check_provider(provider: IdentityProvider, *, timeout: float) -> list[Finding]:
    """Fetch discovery and the key set now and say plainly what is wrong, if anything."""
    findings: list[Finding] = []
    fresh = Directory(timeout=timeout)
    url = discovery_url(provider.issuer)
    try:
        document = fresh._get_json(url, "discovery")
    except ProviderUnavailable as error:
        return [Finding("problem", f"{error.problem}: {url}")]
    metadata, problems = parse_discovery(provider.issuer, document)
    if metadata is None:
        return [Finding("problem", p) for p in problems]
    findings.append(Finding("ok", f"discovery answered at {url}"))
    try:
        keys = fresh._get_json(metadata.jwks_uri, "key set")
    except ProviderUnavailable as error:
        findings.append(Finding("problem", f"{error.problem}: {metadata.jwks_uri}"))
        keys = None
    if keys is not None:
        key_set, key_problems = parse_key_set(keys)
        if key_set is None:
            findings.extend(Finding("problem", p) for p in key_problems)
        else:
            algorithms = sorted({str(k.alg) for k in key_set.keys if k.alg})
            findings.append(
                Finding(
                    "ok",
                    f"key set has {len(key_set.keys)} signing key(s)"
                    + (f" ({', '.join(algorithms)})" if algorithms else ""),
                )
            )
    if metadata.code_challenge_methods and "S256" not in metadata.code_challenge_methods:
        findings.append(Finding("problem", "the provider does not offer PKCE with S256"))
    unusable = set(metadata.id_token_algorithms) - set(ASYMMETRIC_ALGORITHMS)
    if metadata.id_token_algorithms and not set(metadata.id_token_algorithms) - unusable:
        findings.append(
            Finding(
                "problem",
                "the provider signs ID tokens only with algorithms "
                "the hub refuses: " + ", ".join(sorted(unusable)),
            )
        )
    if metadata.userinfo_endpoint is None:
        findings.append(
            Finding(
                "warning", "no userinfo endpoint: email, name and groups must come in the ID token"
            )
        )
    if metadata.end_session_endpoint is None:
        findings.append(
            Finding(
                "warning",
                "no end_session_endpoint: signing out of the hub "
                "will not sign people out at the provider",
            )
        )
    try:
        client_secret(provider)
    except SecretUnavailable as error:
        findings.append(Finding("problem", f"client secret: {error}"))
    else:
        findings.append(Finding("ok", f"client secret found in {provider.secret_source}"))
    return findings


# --- The authorization code flow ------------------------------------------------------------


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def begin(
    provider: IdentityProvider,
    *,
    redirect_uri: str,
    purpose: str = "sign_in",
    return_to: str = "/",
    member_id: int | None = None,
    max_age: int | None = None,
) -> tuple[str, str]:
    """Store a new authorization request and return (the provider URL, its state)."""
    try:
        client_secret(provider)  # fail here, not after the person has typed their password
    except SecretUnavailable as error:
        raise ProviderUnavailable(f"client secret: {error}", provider) from None
    try:
        metadata = directory().metadata(provider.issuer)
    except ProviderUnavailable as error:
        error.provider = provider
        raise
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    session = db.session()
    session.execute(
        delete(OidcRequest).where(
            OidcRequest.created_at < now() - timedelta(minutes=REQUEST_MINUTES)
        )
    )
    session.add(
        OidcRequest(
            id=_digest(state),
            idp_id=provider.id,
            purpose=purpose,
            member_id=member_id,
            nonce=nonce,
            code_verifier=verifier,
            return_to=return_to[:500],
            max_age=max_age,
        )
    )
    session.flush()
    extra: dict[str, Any] = {"nonce": nonce}
    if max_age is not None:
        # Step-up: the provider must ask for the password again, and say when it did.
        extra.update(prompt="login", max_age=max_age)
    client = OAuth2Session(
        provider.client_id,
        scope=provider.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    url, _ = client.create_authorization_url(
        metadata.authorization_endpoint, state=state, code_verifier=verifier, **extra
    )
    return url, state


@dataclass
class Completed:
    provider: IdentityProvider
    purpose: str
    member_id: int | None
    return_to: str
    claims: FederatedClaims
    id_token: str
    auth_time: int | None


def forget_request(state: str) -> None:
    """Remove a request for good, even when the request that consumed it rolls back."""
    digest = _digest(state)

    def write(session: Any) -> None:
        session.execute(delete(OidcRequest).where(OidcRequest.id == digest))

    db.in_own_transaction(write)


def complete(
    *,
    state: str,
    expected_states: list[str],
    code: str | None,
    error: str | None,
    redirect_uri: str,
) -> Completed:
    """Consume the stored request for this answer, redeem the code and verify the ID token."""
    if not state or not any(secrets.compare_digest(state, s) for s in expected_states):
        # Not an answer to a request this browser made (a forged or crossed callback).
        raise CallbackRefused("state_mismatch")
    session = db.session()
    row = session.get(OidcRequest, _digest(state))
    if row is None:
        raise CallbackRefused("state_mismatch")  # already used, or never issued
    # Consume it: of two answers racing with one state, only one deletes the row.
    if session.execute(delete(OidcRequest).where(OidcRequest.id == row.id)).rowcount != 1:
        raise CallbackRefused("state_mismatch")
    provider = session.get(IdentityProvider, row.idp_id)
    if provider is None:
        raise CallbackRefused("state_mismatch")
    if row.created_at < now() - timedelta(minutes=REQUEST_MINUTES):
        raise CallbackRefused("request_expired", provider)
    if error or not code:
        raise CallbackRefused("provider_error", provider)
    started_at = int(row.created_at.timestamp())
    dirx = directory()
    try:
        metadata = dirx.metadata(provider.issuer)
        tokens = _redeem(provider, metadata, code, row.code_verifier, redirect_uri, dirx.timeout)
    except ProviderUnavailable as failure:
        failure.provider = provider
        raise
    raw = tokens.get("id_token")
    if not isinstance(raw, str) or not raw:
        raise CallbackRefused("no_id_token", provider)
    try:
        claims = verify_id_token(
            raw,
            issuer=provider.issuer,
            client_id=provider.client_id,
            nonce=row.nonce,
            jwks_uri=metadata.jwks_uri,
            algorithms=metadata.id_token_algorithms,
            started_at=started_at,
            max_age=row.max_age,
        )
        merged = dict(claims)
        access_token = tokens.get("access_token")
        if metadata.userinfo_endpoint and isinstance(access_token, str):
            info = _userinfo(metadata.userinfo_endpoint, access_token, dirx.timeout)
            if info.get("sub") != claims["sub"]:
                raise CallbackRefused("userinfo_mismatch", provider)
            merged.update({k: v for k, v in info.items() if k not in _PROTOCOL_CLAIMS})
    except ProviderUnavailable as failure:
        failure.provider = provider
        raise
    except CallbackRefused as refused:
        refused.provider = provider
        raise
    verified = merged.get("email_verified")
    return Completed(
        provider=provider,
        purpose=row.purpose,
        member_id=row.member_id,
        return_to=row.return_to,
        claims=FederatedClaims(
            issuer=provider.issuer,
            subject=str(claims["sub"]),
            email=merged.get("email") if isinstance(merged.get("email"), str) else None,
            email_verified=verified if isinstance(verified, bool) else None,
            name=_display_name(merged),
            claims=merged,
        ),
        id_token=raw,
        auth_time=claims.get("auth_time") if isinstance(claims.get("auth_time"), int) else None,
    )


_PROTOCOL_CLAIMS = frozenset(
    {
        "iss",
        "aud",
        "exp",
        "iat",
        "nbf",
        "nonce",
        "azp",
        "auth_time",
        "at_hash",
        "c_hash",
        "sid",
        "jti",
    }
)


def _display_name(claims: Mapping[str, Any]) -> str | None:
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [claims.get("given_name"), claims.get("family_name")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return joined or None


def _redeem(
    provider: IdentityProvider,
    metadata: Metadata,
    code: str,
    verifier: str,
    redirect_uri: str,
    timeout: float,
) -> Mapping[str, Any]:
    try:
        secret = client_secret(provider)
    except SecretUnavailable as error:
        raise ProviderUnavailable(f"client secret: {error}") from None
    client = OAuth2Session(
        provider.client_id,
        secret,
        token_endpoint_auth_method=metadata.token_auth_method,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    try:
        tokens = client.fetch_token(
            metadata.token_endpoint,
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            timeout=timeout,
        )
    except OAuthError as error:
        # The provider refused the code (used twice, expired, wrong verifier or secret).
        log.warning("token endpoint refused the code: %s", error.error)
        raise CallbackRefused("token_refused") from None
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"token endpoint failed ({type(error).__name__})") from None
    finally:
        client.close()
    if not isinstance(tokens, Mapping):
        raise ProviderUnavailable("token endpoint answered with something other than tokens")
    return tokens


def _userinfo(endpoint: str, access_token: str, timeout: float) -> Mapping[str, Any]:
    try:
        response = requests.get(
            endpoint,
            timeout=timeout,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )
    except requests.RequestException as error:
        raise ProviderUnavailable(f"userinfo unreachable ({type(error).__name__})") from None
    if response.status_code != 200:
        raise ProviderUnavailable(f"userinfo answered HTTP {response.status_code}")
    try:
        info = response.json()
    except ValueError:
        raise ProviderUnavailable("userinfo is not JSON") from None
    if not isinstance(info, Mapping):
        raise ProviderUnavailable("userinfo is not a JSON object")
    return info


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read only to choose the key and refuse bad algorithms early."""
    try:
        encoded = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, IndexError):
        return {}
    return header if isinstance(header, dict) else {}


def verify_signature(
    token: str, jwks_uri: str, *, algorithms: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Verify a JWS against the provider's keys; return its claims or raise CallbackRefused."""
    header = unverified_header(token)
    alg = header.get("alg")
    if token.count(".") != 2 or not isinstance(alg, str):
        raise CallbackRefused("malformed_token")
    if alg == "none":
        raise CallbackRefused("unsigned_token")
    allowed = [a for a in ASYMMETRIC_ALGORITHMS if not algorithms or a in algorithms]
    if alg not in allowed:
        raise CallbackRefused("algorithm_refused")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else None
    key = directory().verification_key(jwks_uri, kid, alg)
    if key is None:
        raise CallbackRefused("unknown_key")
    try:
        decoded = jwt.decode(token, key, algorithms=[alg])
    except BadSignatureError:
        raise CallbackRefused("bad_signature") from None
    except UnsupportedAlgorithmError:
        raise CallbackRefused("algorithm_refused") from None
    except (DecodeError, JoseError, ValueError):
        raise CallbackRefused("malformed_token") from None
    return dict(decoded.claims)


def _numeric(claims: Mapping[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def verify_id_token(
    token: str,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    jwks_uri: str,
    algorithms: tuple[str, ...] = (),
    started_at: int,
    max_age: int | None = None,
) -> dict[str, Any]:
    """Check an ID token as OpenID Connect Core 3.1.3.7 says; raise CallbackRefused if bad."""
    claims = verify_signature(token, jwks_uri, algorithms=algorithms)
    moment = int(time.time())
    if claims.get("iss") != issuer:
        raise CallbackRefused("wrong_issuer")
    audience = claims.get("aud")
    audiences = (
        [audience]
        if isinstance(audience, str)
        else (audience if isinstance(audience, list) else [])
    )
    if client_id not in audiences:
        raise CallbackRefused("wrong_audience")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise CallbackRefused("wrong_audience")
    if "azp" in claims and claims.get("azp") != client_id:
        raise CallbackRefused("wrong_audience")
    expires, issued = _numeric(claims, "exp"), _numeric(claims, "iat")
    if expires is None or expires <= moment - LEEWAY:
        raise CallbackRefused("expired_token")
    if issued is None or issued > moment + LEEWAY:
        raise CallbackRefused("issued_at_invalid")
    if issued < started_at - LEEWAY:
        # Issued before this sign-in began: an old token offered again.
        raise CallbackRefused("issued_at_invalid")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise CallbackRefused("no_subject")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not token_nonce:
        raise CallbackRefused("missing_nonce")
    if not secrets.compare_digest(token_nonce, nonce):
        raise CallbackRefused("nonce_mismatch")
    if max_age is not None:
        auth_time = _numeric(claims, "auth_time")
        if auth_time is None or auth_time < moment - max_age - LEEWAY:
            raise CallbackRefused("not_reauthenticated")
    return claims


def logout_url(
    provider: IdentityProvider, id_token_hint: str | None, post_logout_redirect_uri: str
) -> str | None:
    """Where to send the browser to sign out at the provider too, if it offers that."""
    try:
        metadata = directory().metadata(provider.issuer)
    except ProviderUnavailable:
        return None
    if metadata.end_session_endpoint is None:
        return None
    params = {"client_id": provider.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    if id_token_hint:
        params["id_token_hint"] = id_token_hint
    separator = "&" if "?" in metadata.end_session_endpoint else "?"
    return metadata.end_session_endpoint + separator + urlencode(params)
