"""OpenID Connect with agencies' own providers: discovery, key sets, the code flow, ID tokens.

Authorization code flow with PKCE (S256), state and nonce, through Authlib's OAuth2 client.
The ID token is checked with joserfc: signature against the provider's key set, issuer,
audience, expiry, issued-at, nonce and, when the provider is asked for an authentication
level (``acr_values``), ``acr``. Claims beyond ``sub`` come from the userinfo endpoint.

Every call to a provider goes through ``_outbound`` and so through
``db.before_outbound_call()``: it runs with no database transaction open, with a timeout,
so a provider that hangs makes only its own sign-in wait. Discovery documents and key sets
are cached per process for ``HUB_OIDC_CACHE_SECONDS``, filed under the provider row's
version: a saved edit (or **Fetch keys again**) makes every process fetch afresh at its next
use, and a key the provider withdraws is refused at most that long after. A token naming a
key id not in the cached set fetches the set again (at most once a second).

Each authorization request is kept on the server (``OidcRequest``) and consumed, in a short
transaction of its own, by the first answer: a replayed callback finds nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
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
from sqlalchemy.orm import Session

from hub.auth import client_keys
from hub.auth.identity import (
    ABSENT,
    FederatedClaims,
    IdentityProvider,
    ProviderConfig,
    SecretUnavailable,
    TokenAuthMethod,
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
#: A key id still unknown right after fetching the key set is not fetched for again soon,
#: and the set is fetched at most once a second, so random key ids cannot hammer a provider.
UNKNOWN_KID_SECONDS = 60
MIN_REFETCH_SECONDS = 1.0
#: How long a person has to come back from their provider.
REQUEST_MINUTES = 10
#: Lifetime of the hub's client assertion (private_key_jwt): short, as NHS CIS2 requires.
ASSERTION_SECONDS = 120
REQUIRED_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")
#: A made-up code the connection check redeems to see whether the client is accepted.
CHECK_CODE = "marac-hub-connection-check"


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered with something unusable."""

    def __init__(self, problem: str, provider: ProviderConfig | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.provider = provider


class CallbackRefused(Exception):
    """The answer from the provider cannot be accepted; ``reason`` goes into the ledger."""

    def __init__(self, reason: str, provider: ProviderConfig | None = None) -> None:
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
    token_auth_algorithms: tuple[str, ...] = ()


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
        token_auth_algorithms=strings("token_endpoint_auth_signing_alg_values_supported"),
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


def _outbound(what: str, call: Callable[[], requests.Response]) -> requests.Response:
    """Make one HTTP call to a provider, with no database transaction open."""
    db.before_outbound_call()
    try:
        return call()
    except requests.RequestException as error:
        raise ProviderUnavailable(f"{what} unreachable ({type(error).__name__})") from None


def _get_json(url: str, what: str, timeout: float) -> Any:
    response = _outbound(
        what,
        lambda: requests.get(url, timeout=timeout, headers={"Accept": "application/json"}),
    )
    if response.status_code != 200:
        raise ProviderUnavailable(f"{what} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ProviderUnavailable(f"{what} is not JSON") from None


@dataclass
class _KeyCache:
    keys: KeySet
    fetched_at: float
    unknown: dict[str, float] = field(default_factory=dict)


class Directory:
    """Per process: providers' discovery documents and key sets, with a bounded lifetime.

    Entries are filed under (URL, stamp), the stamp being the provider row's id and version
    as the caller read it this request: an edit saved by any process changes the version,
    and so misses every process's cache at once. ``clock`` is the wall clock (seconds).
    """

    MAX_ENTRIES = 500

    def __init__(
        self,
        timeout: float,
        cache_seconds: float = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[tuple[str, str], tuple[Metadata, float]] = {}
        self._keys: dict[tuple[str, str], _KeyCache] = {}

    def _fresh(self, fetched_at: float) -> bool:
        return 0 <= self.clock() - fetched_at < self.cache_seconds

    def _prune(self) -> None:
        # Called with the lock held: drop what has expired, and the oldest beyond the cap.
        for cache in (self._metadata, self._keys):
            stale = [k for k, v in cache.items() if not self._fresh(_fetched(v))]
            for key in stale:
                del cache[key]
            while len(cache) > self.MAX_ENTRIES:
                del cache[min(cache, key=lambda k: _fetched(cache[k]))]

    def metadata(self, issuer: str, stamp: str, *, fresh: bool = False) -> Metadata:
        """The provider's discovery document; ``fresh`` fetches it now whatever is cached."""
        with self._lock:
            cached = self._metadata.get((issuer, stamp))
        if cached and not fresh and self._fresh(cached[1]):
            return cached[0]
        found, problems = parse_discovery(
            issuer, _get_json(discovery_url(issuer), "discovery", self.timeout)
        )
        if found is None:
            raise ProviderUnavailable("; ".join(problems))
        with self._lock:
            self._metadata[(issuer, stamp)] = (found, self.clock())
            self._prune()
        return found

    def key_set(self, jwks_uri: str, stamp: str, *, refresh: bool = False) -> KeySet:
        with self._lock:
            cache = self._keys.get((jwks_uri, stamp))
        if cache is not None and not refresh and self._fresh(cache.fetched_at):
            return cache.keys
        keys, problems = parse_key_set(_get_json(jwks_uri, "key set", self.timeout))
        if keys is None:
            raise ProviderUnavailable("; ".join(problems))
        with self._lock:
            self._keys[(jwks_uri, stamp)] = _KeyCache(keys, self.clock())
            self._prune()
        return keys

    def verification_key(self, jwks_uri: str, stamp: str, kid: str | None, alg: str) -> Key | None:
        """The provider's key for a token; a key id not seen before fetches the set again."""
        keys = self.key_set(jwks_uri, stamp)
        found = _pick_key(keys, kid, alg)
        if found is not None or kid is None:
            return found
        with self._lock:
            cache = self._keys.get((jwks_uri, stamp))
            recently = cache.unknown.get(kid, -1e12) if cache else -1e12
            fetched_at = cache.fetched_at if cache else -1e12
        moment = self.clock()
        if moment - recently < UNKNOWN_KID_SECONDS or moment - fetched_at < MIN_REFETCH_SECONDS:
            return None  # asked moments ago: do not hammer the provider
        keys = self.key_set(jwks_uri, stamp, refresh=True)
        found = _pick_key(keys, kid, alg)
        if found is None:
            with self._lock:
                cache = self._keys.get((jwks_uri, stamp))
                if cache is not None:
                    cache.unknown[kid] = self.clock()
        return found


def _fetched(entry: Any) -> float:
    return float(entry.fetched_at if isinstance(entry, _KeyCache) else entry[1])


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
            "hub.oidc",
            Directory(
                timeout=settings.oidc_timeout_seconds, cache_seconds=settings.oidc_cache_seconds
            ),
        )
    return found


# --- The token endpoint: the hub's client authentication ------------------------------------


def _client(config: ProviderConfig, metadata: Metadata, redirect_uri: str) -> OAuth2Session:
    """An Authlib session that authenticates as the provider's registration says."""
    method = config.auth_method
    if method is TokenAuthMethod.PRIVATE_KEY_JWT:
        try:
            own = client_keys.signing_key()
        except client_keys.ClientKeyUnavailable as error:
            raise ProviderUnavailable(f"client key: {error}", config) from None
        alg = assertion_algorithm(config, metadata, own)
        if alg is None:
            raise ProviderUnavailable(
                "the hub's key cannot sign client assertions in "
                + (config.assertion_alg or ", ".join(metadata.token_auth_algorithms)),
                config,
            )
        header: dict[str, Any] = {"kid": own.kid, "typ": "JWT"}
        if own.x5t_s256:
            header["x5t#S256"] = own.x5t_s256
        client = OAuth2Session(
            config.client_id,
            own.key,
            token_endpoint_auth_method=method.value,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )
        client.register_client_auth_method(
            PrivateKeyJWT(
                metadata.token_endpoint,
                claims={"exp": int(time.time()) + ASSERTION_SECONDS},
                headers=header,
                alg=alg,
            )
        )
        return client
    try:
        secret = client_secret(config)
    except SecretUnavailable as error:
        raise ProviderUnavailable(f"client secret: {error}", config) from None
    return OAuth2Session(
        config.client_id,
        secret,
        token_endpoint_auth_method=method.value,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def assertion_algorithm(
    config: ProviderConfig, metadata: Metadata, own: client_keys.ClientKey
) -> str | None:
    """The algorithm for the hub's client assertion: the one set, else the first both take."""
    if config.assertion_alg:
        return config.assertion_alg if config.assertion_alg in own.algorithms else None
    offered = metadata.token_auth_algorithms
    return next((a for a in own.algorithms if not offered or a in offered), None)


def _token_request(
    config: ProviderConfig,
    metadata: Metadata,
    *,
    code: str,
    verifier: str,
    redirect_uri: str,
    timeout: float,
) -> Mapping[str, Any]:
    """Redeem a code; raises OAuthError when the provider refuses, ProviderUnavailable else."""
    client = _client(config, metadata, redirect_uri)
    db.before_outbound_call()
    try:
        tokens = client.fetch_token(
            metadata.token_endpoint,
            grant_type="authorization_code",
            code=code,
            code_verifier=verifier,
            timeout=timeout,
        )
    except OAuthError:
        raise
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(
            f"token endpoint failed ({type(error).__name__})", config
        ) from None
    finally:
        client.close()
    if not isinstance(tokens, Mapping):
        raise ProviderUnavailable(
            "token endpoint answered with something other than tokens", config
        )
    return tokens


# --- Checking a provider before anyone relies on it -----------------------------------------


@dataclass
class Finding:
    level: str  # "ok", "warning" or "problem"
    message: str


def check_provider(config: ProviderConfig, *, timeout: float, redirect_uri: str) -> list[Finding]:
    """Fetch discovery and the key set now, try the client's authentication, say what is wrong."""
    findings: list[Finding] = []
    url = discovery_url(config.issuer)
    try:
        document = _get_json(url, "discovery", timeout)
    except ProviderUnavailable as error:
        return [Finding("problem", f"{error.problem}: {url}")]
    metadata, problems = parse_discovery(config.issuer, document)
    if metadata is None:
        return [Finding("problem", p) for p in problems]
    findings.append(Finding("ok", f"discovery answered at {url}"))
    try:
        keys = _get_json(metadata.jwks_uri, "key set", timeout)
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
    findings.extend(_check_client_authentication(config, metadata, timeout, redirect_uri))
    return findings


def _check_client_authentication(
    config: ProviderConfig, metadata: Metadata, timeout: float, redirect_uri: str
) -> list[Finding]:
    method = config.auth_method.value
    found: list[Finding] = []
    if metadata.token_auth_methods and method not in metadata.token_auth_methods:
        found.append(
            Finding(
                "problem",
                f"the hub is set to authenticate with {method}, which the provider does not "
                f"offer (it offers {', '.join(metadata.token_auth_methods)})",
            )
        )
    if config.auth_method.uses_secret:
        try:
            client_secret(config)
        except SecretUnavailable as error:
            return [*found, Finding("problem", f"client secret: {error}")]
        source = (
            f"environment variable {config.client_secret_env}"
            if config.client_secret_env
            else f"file {config.client_secret_file}"
        )
        found.append(Finding("ok", f"client secret found in {source}"))
    else:
        try:
            own = client_keys.signing_key()
        except client_keys.ClientKeyUnavailable as error:
            return [*found, Finding("problem", f"client key: {error}")]
        alg = assertion_algorithm(config, metadata, own)
        offered = metadata.token_auth_algorithms
        if alg is None or (offered and alg not in offered):
            found.append(
                Finding(
                    "problem",
                    f"the hub cannot sign client assertions the provider takes ({alg or 'none'};"
                    f" it takes {', '.join(offered) or 'any'})",
                )
            )
        else:
            found.append(
                Finding("ok", f"the hub signs client assertions with key {own.kid} ({alg})")
            )
    # Redeem a made-up code: a provider checks who the client is before the code, so
    # "invalid_client" means the hub's authentication is refused, anything else that it
    # passed (and only the code was wrong, as it must be).
    try:
        _token_request(
            config,
            metadata,
            code=CHECK_CODE,
            verifier=secrets.token_urlsafe(48),
            redirect_uri=redirect_uri,
            timeout=timeout,
        )
    except ProviderUnavailable as error:
        found.append(Finding("problem", f"client authentication: {error.problem}"))
    except OAuthError as error:
        if error.error in ("invalid_client", "unauthorized_client"):
            found.append(
                Finding(
                    "problem",
                    f"the provider refused the hub's client authentication ({method}: "
                    f"{error.error}): check the client id, the secret or key, and the "
                    "authentication method registered for the hub",
                )
            )
        else:
            found.append(Finding("ok", f"the provider accepted the hub's client ({method})"))
    else:
        found.append(Finding("warning", "the provider redeemed a made-up code"))
    return found


# --- The authorization code flow ------------------------------------------------------------


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def probe(config: ProviderConfig) -> Metadata:
    """Fetch the provider's discovery document now, before sending anyone there.

    Every process answers the same for a provider that is down: the hub's own page, never
    the browser's error page for an address that does not answer.
    """
    try:
        return directory().metadata(config.issuer, config.stamp, fresh=True)
    except ProviderUnavailable as error:
        error.provider = config
        raise


def begin(
    config: ProviderConfig,
    metadata: Metadata,
    *,
    redirect_uri: str,
    purpose: str = "sign_in",
    return_to: str = "/",
    member_id: int | None = None,
    max_age: int | None = None,
) -> tuple[str, str]:
    """Store a new authorization request and return (the provider URL, its state)."""
    # Fail here, not after the person has typed their password.
    if config.auth_method.uses_secret:
        try:
            client_secret(config)
        except SecretUnavailable as error:
            raise ProviderUnavailable(f"client secret: {error}", config) from None
    else:
        try:
            client_keys.signing_key()
        except client_keys.ClientKeyUnavailable as error:
            raise ProviderUnavailable(f"client key: {error}", config) from None
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
            idp_id=config.id,
            purpose=purpose,
            member_id=member_id,
            nonce=nonce,
            code_verifier=verifier,
            return_to=return_to[:500],
            max_age=max_age,
        )
    )
    session.flush()
    extra: dict[str, Any] = dict(config.auth_params)
    extra["nonce"] = nonce
    if max_age is not None:
        # Step-up: the provider must ask for the password again, and say when it did.
        extra.update(prompt="login", max_age=max_age)
    client = OAuth2Session(
        config.client_id,
        scope=config.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    url, _ = client.create_authorization_url(
        metadata.authorization_endpoint, state=state, code_verifier=verifier, **extra
    )
    return url, state


@dataclass(frozen=True)
class PendingRequest:
    """A consumed authorization request, as plain values."""

    purpose: str
    member_id: int | None
    nonce: str
    code_verifier: str
    return_to: str
    max_age: int | None
    created_at: datetime


def take_request(state: str, expected_states: list[str]) -> tuple[PendingRequest, ProviderConfig]:
    """Consume the stored request this answer belongs to, in a transaction of its own now.

    Gone for good once taken, whatever happens to the rest of the request: of two answers
    racing with one state, only one deletes the row.
    """
    if not state or not any(secrets.compare_digest(state, s) for s in expected_states):
        # Not an answer to a request this browser made (a forged or crossed callback).
        raise CallbackRefused("state_mismatch")
    digest = _digest(state)
    taken: list[tuple[PendingRequest, ProviderConfig]] = []

    def consume(session: Session) -> None:
        row = session.get(OidcRequest, digest)
        if row is None:
            return  # already used, or never issued
        if session.execute(delete(OidcRequest).where(OidcRequest.id == digest)).rowcount != 1:
            return
        provider = session.get(IdentityProvider, row.idp_id)
        if provider is None:
            return
        taken.append(
            (
                PendingRequest(
                    purpose=row.purpose,
                    member_id=row.member_id,
                    nonce=row.nonce,
                    code_verifier=row.code_verifier,
                    return_to=row.return_to,
                    max_age=row.max_age,
                    created_at=row.created_at,
                ),
                ProviderConfig.of(provider),
            )
        )

    db.end_read_transaction()  # so the consuming transaction runs now, not after this one
    db.in_own_transaction(consume)
    if not taken:
        raise CallbackRefused("state_mismatch")
    return taken[0]


@dataclass
class Completed:
    provider: ProviderConfig
    purpose: str
    member_id: int | None
    return_to: str
    claims: FederatedClaims
    id_token: str
    auth_time: int | None


def complete(
    pending: PendingRequest,
    config: ProviderConfig,
    *,
    code: str | None,
    error: str | None,
    redirect_uri: str,
) -> Completed:
    """Redeem the code and verify the ID token (no transaction is open meanwhile)."""
    try:
        return _complete(pending, config, code=code, error=error, redirect_uri=redirect_uri)
    except (ProviderUnavailable, CallbackRefused) as failure:
        failure.provider = config
        raise


def _complete(
    pending: PendingRequest,
    config: ProviderConfig,
    *,
    code: str | None,
    error: str | None,
    redirect_uri: str,
) -> Completed:
    if pending.created_at < now() - timedelta(minutes=REQUEST_MINUTES):
        raise CallbackRefused("request_expired")
    if error or not code:
        raise CallbackRefused("provider_error")
    started_at = int(pending.created_at.timestamp())
    dirx = directory()
    metadata = dirx.metadata(config.issuer, config.stamp)
    try:
        tokens = _token_request(
            config,
            metadata,
            code=code,
            verifier=pending.code_verifier,
            redirect_uri=redirect_uri,
            timeout=dirx.timeout,
        )
    except OAuthError as refused:
        # The provider refused the code (used twice, expired, wrong verifier or secret).
        log.warning("token endpoint of provider %s refused the code: %s", config.id, refused.error)
        raise CallbackRefused("token_refused") from None
    raw = tokens.get("id_token")
    if not isinstance(raw, str) or not raw:
        raise CallbackRefused("no_id_token")
    claims = verify_id_token(
        raw,
        issuer=config.issuer,
        client_id=config.client_id,
        nonce=pending.nonce,
        jwks_uri=metadata.jwks_uri,
        stamp=config.stamp,
        algorithms=metadata.id_token_algorithms,
        started_at=started_at,
        max_age=pending.max_age,
    )
    required = config.required_acr
    if required and claims.get("acr") not in required:
        raise CallbackRefused("acr_refused")
    merged = dict(claims)
    access_token = tokens.get("access_token")
    if metadata.userinfo_endpoint and isinstance(access_token, str):
        info = _userinfo(metadata.userinfo_endpoint, access_token, dirx.timeout)
        if info.get("sub") != claims["sub"]:
            raise CallbackRefused("userinfo_mismatch")
        merged.update({k: v for k, v in info.items() if k not in _PROTOCOL_CLAIMS})
    email = merged.get("email")
    return Completed(
        provider=config,
        purpose=pending.purpose,
        member_id=pending.member_id,
        return_to=pending.return_to,
        claims=FederatedClaims(
            issuer=config.issuer,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) else None,
            email_verified=merged.get("email_verified", ABSENT),
            name=_display_name(merged),
            claims=merged,
        ),
        id_token=raw,
        auth_time=_numeric(claims, "auth_time"),
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
        "acr",
        "amr",
    }
)


def _display_name(claims: Mapping[str, Any]) -> str | None:
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [claims.get("given_name"), claims.get("family_name")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return joined or None


def _userinfo(endpoint: str, access_token: str, timeout: float) -> Mapping[str, Any]:
    response = _outbound(
        "userinfo",
        lambda: requests.get(
            endpoint,
            timeout=timeout,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        ),
    )
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
    token: str, jwks_uri: str, stamp: str, *, algorithms: tuple[str, ...] = ()
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
    key = directory().verification_key(jwks_uri, stamp, kid, alg)
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
    stamp: str,
    algorithms: tuple[str, ...] = (),
    started_at: int,
    max_age: int | None = None,
) -> dict[str, Any]:
    """Check an ID token as OpenID Connect Core 3.1.3.7 says; raise CallbackRefused if bad."""
    claims = verify_signature(token, jwks_uri, stamp, algorithms=algorithms)
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
    config: ProviderConfig, id_token_hint: str | None, post_logout_redirect_uri: str
) -> str | None:
    """Where to send the browser to sign out at the provider too, if it offers that."""
    try:
        metadata = directory().metadata(config.issuer, config.stamp)
    except ProviderUnavailable:
        return None
    if metadata.end_session_endpoint is None:
        return None
    params = {"client_id": config.client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
    if id_token_hint:
        params["id_token_hint"] = id_token_hint
    separator = "&" if "?" in metadata.end_session_endpoint else "?"
    return metadata.end_session_endpoint + separator + urlencode(params)
