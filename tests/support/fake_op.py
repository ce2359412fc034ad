"""A tiny OpenID provider whose ID tokens each test shapes, to prove each check refuses.

The real provider (``tests/support/idp.py``) never issues a token with the wrong audience
or a bad signature; this one does, on request. It still behaves like a provider where the
hub could tell otherwise: it checks the client secret and the PKCE verifier (S256), binds
each code to the nonce of its authorization request, and serves discovery, a key set and
userinfo. ``tamper(claims, header)`` may change the claims and header in place and return
a whole token to send instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLIENT_ID = "hub-at-fake-op"
CLIENT_SECRET = "fake-op-client-secret"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(claims: dict[str, Any]) -> str:
    """A JWT with ``alg: none`` and no signature."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    method: str


@dataclass
class FakeProvider:
    user: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "fake-user-1",
            "email": "fake.person@police.test",
            "email_verified": True,
            "name": "Fake Person",
            "groups": ["marac-practitioners"],
        }
    )
    #: Shapes each ID token: change ``claims``/``header`` in place, or return a whole token.
    tamper: Callable[[dict[str, Any], dict[str, Any]], str | None] | None = None
    #: Replaces the discovery document (a dict, or raw text for garbage).
    discovery_override: Any = None
    #: Replaces the key set (a dict, or raw text for garbage).
    jwks_override: Any = None
    #: Replaces the token endpoint's answer with raw text.
    token_override: str | None = None
    issued: list[str] = field(default_factory=list)
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, {"kid": "fake-key-1", "use": "sig", "alg": "RS256"}
        )
    )
    other_key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, {"kid": "fake-key-1", "use": "sig", "alg": "RS256"}
        )
    )

    def __post_init__(self) -> None:
        self._codes: dict[str, _Code] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeProvider:
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        self.tamper = None
        self.discovery_override = self.jwks_override = self.token_override = None
        self.issued.clear()

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    # -- tokens -----------------------------------------------------------------------------

    def sign(
        self,
        claims: dict[str, Any],
        header: dict[str, Any] | None = None,
        key: RSAKey | None = None,
    ) -> str:
        return jwt.encode(header or {"alg": "RS256", "kid": "fake-key-1"}, claims, key or self.key)

    def _id_token(self, code: _Code) -> str:
        moment = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": self.user["sub"],
            "aud": code.client_id,
            "iat": moment,
            "exp": moment + 300,
            "auth_time": moment,
        }
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        header: dict[str, Any] = {"alg": "RS256", "kid": "fake-key-1"}
        whole = self.tamper(claims, header) if self.tamper else None
        token = whole or self.sign(claims, header)
        self.issued.append(token)
        return token

    # -- HTTP -------------------------------------------------------------------------------

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        handler = {
            "/.well-known/openid-configuration": self._discovery,
            "/jwks": self._jwks,
            "/authorize": self._authorize,
            "/token": self._token,
            "/userinfo": self._userinfo,
        }.get(request.path)
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    def _json(self, value: Any, status: int = 200) -> Response:
        if isinstance(value, str):
            return Response(value, status=status, content_type="text/html")
        return Response(json.dumps(value), status=status, content_type="application/json")

    def _discovery(self, _request: Request) -> Response:
        if self.discovery_override is not None:
            return self._json(self.discovery_override)
        base = self.issuer
        return self._json(
            {
                "issuer": base,
                "authorization_endpoint": base + "/authorize",
                "token_endpoint": base + "/token",
                "jwks_uri": base + "/jwks",
                "userinfo_endpoint": base + "/userinfo",
                "code_challenge_methods_supported": ["S256"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
            }
        )

    def _jwks(self, _request: Request) -> Response:
        return self._json(
            self.jwks_override if self.jwks_override is not None else self.public_jwks()
        )

    def _authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
            return Response("bad request", status=400)
        code = secrets.token_urlsafe(16)
        self._codes[code] = _Code(
            args["client_id"],
            args.get("redirect_uri", ""),
            args.get("nonce"),
            args.get("code_challenge", ""),
            args.get("code_challenge_method", ""),
        )
        query = urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})

    def _token(self, request: Request) -> Response:
        if self.token_override is not None:
            return self._json(self.token_override)
        auth = request.authorization
        if auth is None or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
            return self._json({"error": "invalid_client"}, 401)
        form = request.form
        code = self._codes.pop(form.get("code", ""), None)
        if code is None or form.get("redirect_uri") != code.redirect_uri:
            return self._json({"error": "invalid_grant"}, 400)
        verifier = form.get("code_verifier", "")
        expected = b64(hashlib.sha256(verifier.encode()).digest())
        if code.method != "S256" or not secrets.compare_digest(expected, code.challenge):
            return self._json({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        return self._json(
            {
                "access_token": "fake-access-token",
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self._id_token(code),
            }
        )

    def _userinfo(self, request: Request) -> Response:
        if request.headers.get("Authorization") != "Bearer fake-access-token":
            return self._json({"error": "invalid_token"}, 401)
        return self._json(dict(self.user))
