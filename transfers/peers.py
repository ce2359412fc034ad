"""Hubs that trust each other: this hub's keys, its trust list, sealed packages and receipts.

Each hub has two keys of its own (EC P-256): one signs (ES256), one decrypts
(ECDH-ES+A256KW with A256GCM). Their public halves are served at /transfers/hub-keys.json,
as the ledger's key is at /ledger/public-key, for the other hub's administrator to copy
into its trust list. Keys are never fetched at run time: a hub trusts the keys its trust
list pins, and nothing else.

A package is a JWS signed by the sending hub, inside a JWE only the receiving hub can open:
its claims name the sender (``iss``), the receiver (``aud``), when it was sealed and until
when it holds (``iat``, ``exp``) and its identifier (``jti``, a second one is a replay).

Between hubs, the sender authenticates with a client assertion (RFC 7523, signed with its
key) in a client-credentials grant to the receiver's token endpoint; the receiver answers
with a short access token of its own signing, for the push only. The receiver's answer to
the push is a receipt it signs: the sender keeps it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet

SIGNING = "ES256"
KEY_WRAP = "ECDH-ES+A256KW"
CONTENT = "A256GCM"
PACKAGE_TYPE = "marac-transfer+jwt"
RECEIPT_TYPE = "marac-receipt+jwt"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_PATH = "/api/v1/transfers/token"  # noqa: S105 (an address, not a secret)
PUSH_PATH = "/api/v1/transfers"
PUSH_SCOPE = "transfers:push"
#: Seconds a client assertion and an access token between hubs last.
ASSERTION_SECONDS = 60
TOKEN_SECONDS = 300
LEEWAY = 60


class TrustError(RuntimeError):
    """The keys or the trust list cannot be read: the hub refuses to start transfers."""


class PackageRefused(Exception):
    """A package, token or receipt that cannot be accepted, with a code for the ledger."""

    def __init__(self, code: str, detail: str, *, issuer: str = "", package_id: str = "") -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.issuer = issuer
        self.package_id = package_id


@dataclass(frozen=True)
class Peer:
    """Another hub, as this hub's trust list describes it."""

    id: str
    name: str
    url: str
    keys: KeySet
    areas: tuple[str, ...]


@dataclass(frozen=True)
class Federation:
    """This hub's identity, its keys, and the hubs it trusts."""

    hub_id: str
    name: str
    signing: ECKey
    decrypting: ECKey
    peers: dict[str, Peer] = field(default_factory=dict)
    package_hours: int = 72
    #: False on a production hub with no transfer keys configured: it trusts no hub, and
    #: publishes no keys (its keys are made up in memory, and used for nothing).
    enabled: bool = True

    def public_keys(self) -> dict[str, Any]:
        keys = KeySet([self.signing, self.decrypting]).as_dict(private=False)
        return dict(keys)

    def peer(self, hub_id: str) -> Peer | None:
        return self.peers.get(hub_id)


def _generate() -> dict[str, Any]:
    sign = ECKey.generate_key(
        "P-256", parameters={"use": "sig", "alg": SIGNING}, private=True, auto_kid=True
    )
    wrap = ECKey.generate_key(
        "P-256", parameters={"use": "enc", "alg": KEY_WRAP}, private=True, auto_kid=True
    )
    return dict(KeySet([sign, wrap]).as_dict(private=True))


def load_keys(path: str, *, instance_path: str, production: bool) -> tuple[ECKey, ECKey]:
    """The signing and decrypting keys from the file; off production, generated once."""
    file = Path(path) if path else Path(instance_path) / "transfer-keys.json"
    if not file.exists():
        if production or path:
            raise TrustError("no transfer keys: set HUB_TRANSFER_KEYS_FILE")
        file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(_generate(), handle)
    try:
        found = json.loads(file.read_text())["keys"]
        keys = {k["use"]: ECKey.import_key(k) for k in found}
        return keys["sig"], keys["enc"]
    except (ValueError, KeyError, TypeError, JoseError) as error:
        raise TrustError(f"the transfer keys cannot be read: {error}") from None


def load_trust_list(path: str) -> dict[str, Peer]:
    """The other hubs from the trust list file (none when no file is set)."""
    if not path:
        return {}
    try:
        found = json.loads(Path(path).read_text())
        peers = {}
        for hub in found["hubs"]:
            public = [k for k in hub["keys"]["keys"] if "d" not in k]
            peers[hub["id"]] = Peer(
                id=hub["id"],
                name=hub["name"],
                url=hub["url"].rstrip("/"),
                keys=KeySet([ECKey.import_key(k) for k in public]),
                areas=tuple(hub.get("areas", [])),
            )
        return peers
    except (OSError, ValueError, KeyError, TypeError, JoseError) as error:
        raise TrustError(f"the trust list cannot be read: {error}") from None


def federation_from(settings: Any) -> Federation:
    if settings.is_production and not settings.transfer_keys_file:
        unused = {k["use"]: ECKey.import_key(k) for k in _generate()["keys"]}
        return Federation(
            settings.hub_id, settings.hub_name, unused["sig"], unused["enc"], enabled=False
        )
    signing, decrypting = load_keys(
        settings.transfer_keys_file,
        instance_path=settings.instance_path,
        production=settings.is_production,
    )
    return Federation(
        hub_id=settings.hub_id,
        name=settings.hub_name,
        signing=signing,
        decrypting=decrypting,
        peers=load_trust_list(settings.trusted_hubs_file),
        package_hours=settings.transfer_package_hours,
    )


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _sign(fed: Federation, claims: dict[str, Any], typ: str) -> str:
    header = {"alg": SIGNING, "kid": fed.signing.kid, "typ": typ}
    payload = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    return jws.serialize_compact(header, payload, fed.signing, algorithms=[SIGNING])


def _claims_of(token: str) -> dict[str, Any]:
    """A compact JWS's claims before verifying it: only to learn who claims to have signed."""
    import base64

    try:
        part = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, IndexError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _verify(token: str, keys: KeySet, typ: str) -> dict[str, Any]:
    try:
        found = jws.deserialize_compact(token, keys, algorithms=[SIGNING])
    except (JoseError, ValueError) as error:
        raise PackageRefused("altered", "The signature does not verify.") from error
    if found.protected.get("typ") != typ:
        raise PackageRefused("altered", "This is not the kind of signed object expected.")
    claims = json.loads(found.payload)
    if not isinstance(claims, dict):
        raise PackageRefused("altered", "The signed content is not an object.")
    return claims


def _times(claims: dict[str, Any], moment: int, *, what: str) -> None:
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise PackageRefused("altered", f"The {what} does not say when it expires.")
    if exp < moment - LEEWAY:
        raise PackageRefused("expired", f"The {what} has expired.")
    if iat > moment + LEEWAY:
        raise PackageRefused("altered", f"The {what} was sealed in the future.")


# --- packages -----------------------------------------------------------------------------


def seal(
    fed: Federation, peer: Peer, content: dict[str, Any], *, moment: int | None = None
) -> tuple[str, str]:
    """Sign and encrypt a package for the peer; returns (its identifier, the package)."""
    issued = int(time.time()) if moment is None else moment
    package_id = uuid.uuid4().hex
    claims = {
        **content,
        "iss": fed.hub_id,
        "aud": peer.id,
        "iat": issued,
        "exp": issued + fed.package_hours * 3600,
        "jti": package_id,
    }
    signed = _sign(fed, claims, PACKAGE_TYPE)
    try:
        wrap = next(k for k in peer.keys.keys if k.get("use") == "enc" or k.get("alg") == KEY_WRAP)
    except StopIteration:
        raise TrustError(f"the trust list has no encryption key for {peer.id}") from None
    header = {"alg": KEY_WRAP, "enc": CONTENT, "kid": wrap.kid, "cty": PACKAGE_TYPE}
    sealed = jwe.encrypt_compact(header, signed.encode(), wrap, algorithms=[KEY_WRAP, CONTENT])
    return package_id, sealed


def open_package(fed: Federation, package: str, *, moment: int | None = None) -> dict[str, Any]:
    """Decrypt and verify a package against the trust list; PackageRefused when it fails."""
    now_ = int(time.time()) if moment is None else moment
    try:
        opened = jwe.decrypt_compact(
            package.strip(), fed.decrypting, algorithms=[KEY_WRAP, CONTENT]
        )
    except (JoseError, ValueError) as error:
        raise PackageRefused(
            "altered", "The package cannot be opened: it was altered or is not for this hub."
        ) from error
    signed = (opened.plaintext or b"").decode("ascii", "replace")
    claimed = _claims_of(signed)
    issuer = claimed.get("iss") if isinstance(claimed.get("iss"), str) else ""
    package_id = claimed.get("jti") if isinstance(claimed.get("jti"), str) else ""
    peer = fed.peer(issuer or "")
    try:
        if peer is None:
            raise PackageRefused(
                "untrusted", "The package comes from a hub this hub does not trust."
            )
        claims = _verify(signed, peer.keys, PACKAGE_TYPE)
        if claims.get("aud") != fed.hub_id:
            raise PackageRefused("not_for_us", "The package is addressed to another hub.")
        _times(claims, now_, what="package")
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise PackageRefused("altered", "The package has no identifier.")
    except PackageRefused as refused:
        refused.issuer, refused.package_id = issuer or "", package_id or ""
        raise
    return claims


# --- receipts -----------------------------------------------------------------------------


def sign_receipt(
    fed: Federation, peer_id: str, package_id: str, package_digest: str, **more: Any
) -> str:
    moment = int(time.time())
    claims = {
        "iss": fed.hub_id,
        "aud": peer_id,
        "iat": moment,
        "exp": moment + 365 * 24 * 3600,
        "package": package_id,
        "digest": package_digest,
        **more,
    }
    return _sign(fed, claims, RECEIPT_TYPE)


def verify_receipt(
    fed: Federation, peer: Peer, receipt: str, package_id: str, package_digest: str
) -> dict[str, Any]:
    claims = _verify(receipt, peer.keys, RECEIPT_TYPE)
    if claims.get("iss") != peer.id or claims.get("aud") != fed.hub_id:
        raise PackageRefused("untrusted", "The receipt is not from the hub the package went to.")
    if claims.get("package") != package_id or claims.get("digest") != package_digest:
        raise PackageRefused("altered", "The receipt is for another package.")
    return claims


# --- tokens between hubs ------------------------------------------------------------------


def client_assertion(fed: Federation, peer: Peer) -> str:
    moment = int(time.time())
    claims = {
        "iss": fed.hub_id,
        "sub": fed.hub_id,
        "aud": peer.url + TOKEN_PATH,
        "iat": moment,
        "exp": moment + ASSERTION_SECONDS,
        "jti": uuid.uuid4().hex,
    }
    return _sign(fed, claims, "JWT")


def issue_token(fed: Federation, assertion: str, token_url: str) -> tuple[str, Peer]:
    """Check a trusted hub's client assertion; answer an access token for the push."""
    claimed = _claims_of(assertion)
    issuer = claimed.get("iss") if isinstance(claimed.get("iss"), str) else ""
    peer = fed.peer(issuer or "")
    if peer is None:
        raise PackageRefused(
            "untrusted", "This hub does not trust the calling hub.", issuer=issuer or ""
        )
    try:
        claims = _verify(assertion, peer.keys, "JWT")
        if claims.get("sub") != peer.id or claims.get("aud") != token_url:
            raise PackageRefused("untrusted", "The client assertion is not for this hub.")
        _times(claims, int(time.time()), what="client assertion")
    except PackageRefused as refused:
        refused.issuer = peer.id
        raise
    moment = int(time.time())
    token = _sign(
        fed,
        {
            "iss": fed.hub_id,
            "aud": fed.hub_id,
            "sub": peer.id,
            "scope": PUSH_SCOPE,
            "iat": moment,
            "exp": moment + TOKEN_SECONDS,
            "jti": uuid.uuid4().hex,
        },
        "at+jwt",
    )
    return token, peer


def verify_token(fed: Federation, token: str) -> Peer:
    """The trusted hub an access token of this hub's own signing was issued to."""
    claims = _verify(token, KeySet([fed.signing]), "at+jwt")
    if claims.get("iss") != fed.hub_id or claims.get("aud") != fed.hub_id:
        raise PackageRefused("untrusted", "The token is not one this hub issued.")
    _times(claims, int(time.time()), what="access token")
    peer = fed.peer(str(claims.get("sub", "")))
    if peer is None:
        raise PackageRefused("untrusted", "The token's hub is no longer trusted.")
    return peer
