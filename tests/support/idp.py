"""Test harness for the development OpenID provider in ``tools/dev-idp``.

``DevIdP`` runs the real ``oidc-provider`` (Node) on a free loopback port with
clients and users given by the test, and stops it afterwards::

    with DevIdP().start(clients=[...], users=[...]) as idp:
        url = idp.authorization_url("hub", "http://127.0.0.1:5000/cb", ...)
        final = login_via_http(requests.Session(), url, "alice", "pw")

``login_via_http`` drives the provider's login form with plain HTTP and
returns the last redirect, the one pointing at the client's redirect_uri,
without following it. Only ``requests`` and the standard library are used.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote_plus, urlencode, urljoin, urlsplit

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
IDP_DIR = REPO_ROOT / "tools" / "dev-idp"
READY_LINE = "dev-idp listening on "

DEFAULT_API_AUDIENCE = "urn:marac-hub:api"
DEFAULT_API_SCOPES: tuple[str, ...] = ("referrals:read", "referrals:write", "returns:read")

HTTP_TIMEOUT = 10.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def default_clients() -> list[dict[str, Any]]:
    """A confidential web client for the hub and a machine-to-machine client."""
    return [
        {
            "client_id": "marac-hub-test",
            "client_secret": "marac-hub-test-secret",
            "client_name": "MARAC Hub (tests)",
            "redirect_uris": ["http://127.0.0.1:5000/auth/callback"],
            "post_logout_redirect_uris": ["http://127.0.0.1:5000/"],
            "grant_types": [
                "authorization_code",
                "refresh_token",
                "client_credentials",
            ],
            "response_types": ["code"],
            "scope": "openid offline_access email profile groups roles "
            + " ".join(DEFAULT_API_SCOPES),
        },
        {
            "client_id": "partner-agency-system",
            "client_secret": "partner-agency-system-secret",
            "redirect_uris": [],
            "response_types": [],
            "grant_types": ["client_credentials"],
            "scope": "referrals:read",
        },
    ]


def default_users() -> list[dict[str, Any]]:
    return [
        {
            "sub": "u-alice",
            "login": "alice@police.example",
            "password": "alice-password",
            "email": "alice@police.example",
            "name": "Alice Idris",
            "given_name": "Alice",
            "family_name": "Idris",
            "groups": ["agency:police"],
            "roles": ["marac-chair"],
        },
        {
            "sub": "u-bob",
            "login": "bob",
            "password": "bob-password",
            "email": "bob@idva.example",
            "name": "Bob Okafor",
            "given_name": "Bob",
            "family_name": "Okafor",
            "groups": ["agency:idva"],
            "roles": ["referrer"],
        },
    ]


class DevIdPError(RuntimeError):
    """The provider could not be installed, started or talked to."""


class IdPLoginError(DevIdPError):
    """The login flow did not reach the client; ``response`` is the last page."""

    def __init__(self, message: str, response: requests.Response | None = None) -> None:
        super().__init__(message)
        self.response = response


# ---------------------------------------------------------------------------
# Installing node_modules once
# ---------------------------------------------------------------------------


def _pinned_version() -> str:
    manifest = json.loads((IDP_DIR / "package.json").read_text(encoding="utf-8"))
    return str(manifest["dependencies"]["oidc-provider"])


def _installed() -> bool:
    marker = IDP_DIR / "node_modules" / "oidc-provider" / "package.json"
    try:
        return bool(json.loads(marker.read_text(encoding="utf-8"))["version"] == _pinned_version())
    except (OSError, ValueError, KeyError):
        return False


def ensure_node_modules() -> None:
    """Run ``npm ci`` in tools/dev-idp unless the pinned provider is installed.

    A file lock keeps parallel test workers from installing at the same time.
    """
    if _installed():
        return
    digest = hashlib.sha256(str(IDP_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"marac-dev-idp-npm-{digest}.lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _installed():
                return
            npm = shutil.which("npm")
            if npm is None:
                raise DevIdPError("npm is not on PATH; the dev IdP needs Node.js and npm")
            result = subprocess.run(
                [
                    npm,
                    "ci",
                    "--prefer-offline",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                ],
                cwd=IDP_DIR,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0 or not _installed():
                raise DevIdPError(
                    f"npm ci in {IDP_DIR} failed ({result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}"
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------
# The provider process
# ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DevIdP:
    """One running dev OpenID provider process."""

    def __init__(self, *, node: str | None = None, startup_timeout: float = 120.0) -> None:
        self._node = node or shutil.which("node") or "node"
        self._startup_timeout = startup_timeout
        self._why = ""
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()
        self._log: collections.deque[str] = collections.deque(maxlen=400)
        self._tmp: Path | None = None
        self._port: int | None = None
        self._fixed_port = False
        self._env: dict[str, str] = {}
        self._keys_file: Path | None = None
        self._discovery: dict[str, Any] | None = None
        self._issuer_path = ""
        self.api_audience = DEFAULT_API_AUDIENCE
        self.clients: list[dict[str, Any]] = []
        self.users: list[dict[str, Any]] = []

    # -- lifecycle ---------------------------------------------------------

    def start(
        self,
        port: int | None = None,
        clients: Sequence[Mapping[str, Any]] | None = None,
        users: Sequence[Mapping[str, Any]] | None = None,
        api_audience: str = DEFAULT_API_AUDIENCE,
        keys_file: str | os.PathLike[str] | None = None,
        *,
        api_scopes: Sequence[str] = DEFAULT_API_SCOPES,
        resources: Mapping[str, Mapping[str, Any]] | None = None,
        claims: Mapping[str, Sequence[str]] | None = None,
        test_admin: bool = True,
        extra_env: Mapping[str, str] | None = None,
        issuer_path: str = "",
        signing_algs: Sequence[str] = ("RS256", "ES256"),
        acr_values: Sequence[str] = (),
        subject_types: Sequence[str] = (),
    ) -> DevIdP:
        """Start the provider and wait until discovery answers.

        ``port=None`` picks a free loopback port. ``clients``/``users`` default
        to ``default_clients()``/``default_users()``. ``test_admin`` enables
        ``POST /__admin/rotate`` (see ``rotate_keys``) and the hang controls.
        ``issuer_path`` puts the issuer (and every endpoint) under a path, as
        Entra ID's ``/<tenant>/v2.0``; ``signing_algs`` chooses the kinds of key.
        """
        if self._proc is not None:
            raise DevIdPError("dev IdP already started")
        ensure_node_modules()
        self.clients = [dict(c) for c in (clients if clients is not None else default_clients())]
        self.users = [dict(u) for u in (users if users is not None else default_users())]
        self.api_audience = api_audience
        config: dict[str, Any] = {"clients": self.clients, "users": self.users}
        if resources:
            config["resources"] = {k: dict(v) for k, v in resources.items()}
        if claims:
            config["claims"] = {k: list(v) for k, v in claims.items()}
        if acr_values:
            config["acrValues"] = list(acr_values)
        if subject_types:
            config["subjectTypes"] = list(subject_types)
        self._issuer_path = issuer_path.rstrip("/")

        self._tmp = Path(tempfile.mkdtemp(prefix="marac-dev-idp-"))
        config_path = self._tmp / "config.json"
        config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        self._keys_file = Path(keys_file) if keys_file is not None else None

        self._env = {
            "IDP_HOST": "127.0.0.1",
            "IDP_CONFIG": str(config_path),
            "IDP_API_AUDIENCE": api_audience,
            "IDP_API_SCOPES": " ".join(api_scopes),
            "IDP_EXIT_ON_STDIN_EOF": "1",
        }
        if test_admin:
            self._env["IDP_TEST_ADMIN"] = "1"
        if self._keys_file is not None:
            self._env["IDP_KEYS_FILE"] = str(self._keys_file)
        self._env["IDP_SIGNING_ALGS"] = ",".join(signing_algs)
        if extra_env:
            self._env.update(extra_env)

        self._fixed_port = port is not None
        try:
            self._launch(port)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, port: int | None) -> None:
        attempts = 1 if port is not None else 3
        for attempt in range(attempts):
            chosen = port if port is not None else _free_port()
            # The provider is up in about a second. Now and then, with the suite in several
            # processes, one never prints its ready line: the first try gets 30 s, and a
            # silent one is started again on another port.
            first = attempt == 0 and attempts > 1
            wait = min(30.0, self._startup_timeout) if first else self._startup_timeout
            if self._try_launch(chosen, wait):
                return
            silent = self._why.startswith("it did not answer")
            if not ("EADDRINUSE" in self.logs or silent) or attempt == attempts - 1:
                break
        raise DevIdPError(f"dev IdP did not start ({self._why}); output:\n{self.logs}")

    def _try_launch(self, port: int, wait: float) -> bool:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        env.update(self._env)
        env["IDP_PORT"] = str(port)
        if self._issuer_path:
            env["IDP_ISSUER"] = f"http://127.0.0.1:{port}{self._issuer_path}"
        self._log.clear()
        self._ready.clear()
        self._discovery = None
        proc = subprocess.Popen(
            [self._node, "server.mjs"],
            cwd=IDP_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self._proc = proc
        self._port = port
        self._reader = threading.Thread(
            target=self._read_output, args=(proc,), name=f"dev-idp-{port}", daemon=True
        )
        self._reader.start()

        deadline = time.monotonic() + wait
        while not self._ready.wait(0.05):
            if proc.poll() is not None or time.monotonic() > deadline:
                return self._failed(proc)
        # The ready line is printed from the listen callback; discovery
        # answering proves the provider is wired up too.
        while True:
            try:
                resp = requests.get(
                    f"{self.issuer}/.well-known/openid-configuration",
                    timeout=HTTP_TIMEOUT,
                )
                if resp.status_code == 200:
                    self._discovery = resp.json()
                    return True
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                return self._failed(proc)
            time.sleep(0.05)

    def _failed(self, proc: subprocess.Popen[str]) -> bool:
        """Note why a start failed (for the error), stop what is left of it, and say so."""
        status = proc.poll()
        self._why = (
            f"it exited with status {status}" if status is not None else "it did not answer in time"
        )
        self._terminate()
        return False

    def _read_output(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self._log.append(line.rstrip("\n"))
            if line.startswith(READY_LINE):
                self._ready.set()
        self._ready.set()

    def _terminate(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._reader is not None:
            self._reader.join(timeout=timeout)
            self._reader = None

    def stop(self) -> None:
        """Terminate the provider (SIGTERM, then SIGKILL after 5 s) and clean up."""
        self._terminate()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def restart_with_new_key(self) -> DevIdP:
        """Restart on the same port (same issuer) with freshly generated keys.

        Sessions, codes and tokens held by the old process are gone, as after
        a real restart; the JWKS has new kids. A ``keys_file`` is deleted
        first so the new process really generates new keys.
        """
        if self._port is None or self._tmp is None:
            raise DevIdPError("dev IdP is not started")
        port = self._port
        self._terminate()
        if self._keys_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self._keys_file.unlink()
        for _ in range(20):
            if self._try_launch(port, self._startup_timeout):
                return self
            if "EADDRINUSE" not in self.logs:
                break
            time.sleep(0.1)
        raise DevIdPError(f"dev IdP did not restart on port {port}; output:\n{self.logs}")

    def rotate_keys(self, retain: bool = True) -> dict[str, Any]:
        """Rotate keys in place via ``POST /__admin/rotate`` (needs test_admin).

        New keys sign from now on; with ``retain`` the previous ones stay in
        the JWKS. Sessions and tokens survive, unlike ``restart_with_new_key``.
        """
        resp = requests.post(
            f"{self.origin}/__admin/rotate",
            params={} if retain else {"retain": "0"},
            timeout=HTTP_TIMEOUT,
        )
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def hang(self, *paths: str) -> None:
        """Make requests to these paths (relative to the issuer: /token, /jwks, /me,
        /.well-known/openid-configuration) wait, unanswered, until ``release()``."""
        resp = requests.post(
            f"{self.origin}/__admin/hang", params={"paths": ",".join(paths)}, timeout=HTTP_TIMEOUT
        )
        resp.raise_for_status()

    def release(self) -> int:
        """Answer every waiting request, and stop hanging; returns how many were waiting."""
        resp = requests.post(f"{self.origin}/__admin/release", timeout=HTTP_TIMEOUT)
        resp.raise_for_status()
        return int(resp.json()["released"])

    def stats(self) -> dict[str, Any]:
        """``{"waiting": n, "requests": {path: count}}`` since the provider started."""
        resp = requests.get(f"{self.origin}/__admin/stats", timeout=HTTP_TIMEOUT)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    def wait_for_waiting(self, count: int, timeout: float = 30.0) -> None:
        """Block until ``count`` requests are hanging at the provider."""
        deadline = time.monotonic() + timeout
        while self.stats()["waiting"] < count:
            if time.monotonic() > deadline:
                raise DevIdPError(f"fewer than {count} requests reached the provider")
            time.sleep(0.02)

    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- facts -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def port(self) -> int:
        if self._port is None:
            raise DevIdPError("dev IdP is not started")
        return self._port

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.origin}{self._issuer_path}"

    @property
    def discovery(self) -> dict[str, Any]:
        if self._discovery is None:
            raise DevIdPError("dev IdP is not started")
        return self._discovery

    @property
    def token_endpoint(self) -> str:
        return str(self.discovery["token_endpoint"])

    @property
    def jwks_uri(self) -> str:
        return str(self.discovery["jwks_uri"])

    @property
    def logs(self) -> str:
        return "\n".join(self._log)

    def jwks(self) -> dict[str, Any]:
        resp = requests.get(self.jwks_uri, timeout=HTTP_TIMEOUT)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    # -- helpers -----------------------------------------------------------

    def authorization_url(
        self,
        client_id: str,
        redirect_uri: str,
        *,
        scope: str = "openid email profile groups roles",
        state: str | None = None,
        nonce: str | None = None,
        code_challenge: str | None = None,
        **extra: str,
    ) -> str:
        """Build an authorization request URL (S256 when a challenge is given)."""
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
        }
        if state is not None:
            params["state"] = state
        if nonce is not None:
            params["nonce"] = nonce
        if code_challenge is not None:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        params.update(extra)
        return f"{self.discovery['authorization_endpoint']}?{urlencode(params)}"

    def exchange_code(
        self,
        client_id: str,
        secret: str,
        code: str,
        redirect_uri: str,
        code_verifier: str,
    ) -> dict[str, Any]:
        """Redeem an authorization code at the token endpoint (client_secret_basic)."""
        resp = requests.post(
            self.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier,
            },
            auth=basic_auth(client_id, secret),
            timeout=HTTP_TIMEOUT,
        )
        if resp.status_code != 200:
            raise DevIdPError(f"code exchange failed: {resp.status_code} {resp.text}")
        result: dict[str, Any] = resp.json()
        return result

    def client_credentials_token(
        self, client_id: str, secret: str, scope: str, resource: str | None = None
    ) -> str:
        """A client-credentials access token; ``resource`` defaults to the hub API."""
        return client_credentials_token(
            client_id,
            secret,
            scope,
            resource if resource is not None else self.api_audience,
            token_endpoint=self.token_endpoint,
        )


# ---------------------------------------------------------------------------
# Plain-HTTP helpers
# ---------------------------------------------------------------------------


def basic_auth(client_id: str, secret: str) -> tuple[str, str]:
    """client_secret_basic credentials, form-encoded first as RFC 6749 2.3.1 asks."""
    return quote_plus(client_id), quote_plus(secret)


def pkce_pair() -> tuple[str, str]:
    """Return (code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    return verifier, challenge


class _Form:
    def __init__(self, attrs: Mapping[str, str | None]) -> None:
        self.id = attrs.get("id") or ""
        self.action = attrs.get("action") or ""
        self.method = (attrs.get("method") or "get").lower()
        self.fields: dict[str, str] = {}
        self.names: set[str] = set()
        self.buttons: list[tuple[str, str]] = []
        self.visible_inputs = False


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[_Form] = []
        self._open: _Form | None = None

    def _owner(self, attrs: Mapping[str, str | None]) -> _Form | None:
        owner_id = attrs.get("form")
        if owner_id:
            return next((f for f in self.forms if f.id == owner_id), None)
        return self._open

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self._open = _Form(a)
            self.forms.append(self._open)
            return
        form = self._owner(a)
        if form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            form.names.add(name)
            kind = (a.get("type") or "text").lower()
            if kind not in ("hidden", "submit", "button", "image"):
                form.visible_inputs = True
            if kind in ("submit", "button", "image"):
                form.buttons.append((name, a.get("value") or ""))
            elif kind not in ("checkbox", "radio") or "checked" in a:
                form.fields[name] = a.get("value") or ""
        elif tag == "button" and name:
            form.buttons.append((name, a.get("value") or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def _forms(html: str) -> list[_Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


def _is_html(resp: requests.Response) -> bool:
    return "html" in resp.headers.get("Content-Type", "")


def login_via_http(
    session: requests.Session,
    authorize_url: str,
    login: str,
    password: str,
    *,
    max_steps: int = 15,
) -> requests.Response:
    """Sign in at the dev IdP with plain HTTP.

    Starts at ``authorize_url``, follows the provider's own redirects, fills
    in the login form once (auto-consent follows), and returns the first
    redirect that leaves the provider, i.e. the one to the client's
    redirect_uri, without following it (with ``response_mode=form_post``,
    the self-submitting page addressed to the client instead). Raises ``IdPLoginError`` (with the
    page in ``.response``) if the password is refused or the flow stalls.
    """
    provider = _origin(authorize_url)
    resp = session.get(authorize_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    submitted = False
    for _ in range(max_steps):
        if resp.status_code in _REDIRECTS and "Location" in resp.headers:
            target = urljoin(resp.url, resp.headers["Location"])
            if _origin(target) != provider:
                return resp
            resp = session.get(target, allow_redirects=False, timeout=HTTP_TIMEOUT)
            continue
        forms = _forms(resp.text) if _is_html(resp) else []
        login_form = next((f for f in forms if {"login", "password"} <= f.names), None)
        auto_form = next((f for f in forms if f.method == "post" and not f.visible_inputs), None)
        if login_form is None and auto_form is not None:
            # A self-submitting page: the provider ending the previous user's
            # session when another one signs in, or response_mode=form_post
            # (returned as is: that one is addressed to the client).
            action = urljoin(resp.url, auto_form.action)
            if _origin(action) != provider:
                return resp
            resp = session.post(
                action,
                data=auto_form.fields,
                allow_redirects=False,
                timeout=HTTP_TIMEOUT,
            )
            continue
        if login_form is None:
            raise IdPLoginError(
                f"unexpected response from the IdP: {resp.status_code} at {resp.url}",
                resp,
            )
        if submitted:
            raise IdPLoginError("the IdP refused the login or password", resp)
        data = dict(login_form.fields)
        data.update({"login": login, "password": password})
        data.update(login_form.buttons[:1])
        resp = session.post(
            urljoin(resp.url, login_form.action),
            data=data,
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
        )
        submitted = True
    raise IdPLoginError(f"no redirect to the client after {max_steps} steps", resp)


def logout_via_http(
    session: requests.Session,
    end_session_url: str,
    *,
    max_steps: int = 6,
) -> requests.Response:
    """Confirm RP-initiated logout with plain HTTP.

    GETs ``end_session_url`` (built with id_token_hint or client_id, and
    post_logout_redirect_uri), submits the confirmation form with
    ``logout=yes`` and returns the first redirect that leaves the provider,
    or the provider's own "signed out" page when no post_logout_redirect_uri
    was given.
    """
    provider = _origin(end_session_url)
    resp = session.get(end_session_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    submitted = False
    for _ in range(max_steps):
        if resp.status_code in _REDIRECTS and "Location" in resp.headers:
            target = urljoin(resp.url, resp.headers["Location"])
            if _origin(target) != provider:
                return resp
            resp = session.get(target, allow_redirects=False, timeout=HTTP_TIMEOUT)
            continue
        form = (
            next(
                (f for f in _forms(resp.text) if "xsrf" in f.names and f.method == "post"),
                None,
            )
            if _is_html(resp)
            else None
        )
        if form is None or submitted:
            if resp.status_code == 200 and submitted:
                return resp
            raise IdPLoginError(
                f"unexpected response from the IdP: {resp.status_code} at {resp.url}",
                resp,
            )
        data = dict(form.fields)
        data.setdefault("logout", "yes")
        resp = session.post(
            urljoin(resp.url, form.action),
            data=data,
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
        )
        submitted = True
    raise IdPLoginError(f"logout did not finish after {max_steps} steps", resp)


def client_credentials_token(
    client_id: str,
    secret: str,
    scope: str,
    resource: str,
    *,
    token_endpoint: str,
) -> str:
    """Request a client-credentials access token for ``resource``; returns it."""
    resp = requests.post(
        token_endpoint,
        data={"grant_type": "client_credentials", "scope": scope, "resource": resource},
        auth=basic_auth(client_id, secret),
        timeout=HTTP_TIMEOUT,
    )
    if resp.status_code != 200:
        raise DevIdPError(f"client credentials grant failed: {resp.status_code} {resp.text}")
    return str(resp.json()["access_token"])
