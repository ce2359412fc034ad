"""The hub's own keys as an OpenID client: ``private_key_jwt`` client authentication.

Providers that do not want a shared secret (NHS CIS2 requires this; Microsoft Entra ID
recommends it) take a JWT the hub signs with its private key, and check it against the
public key the hub registered with them or publishes at ``/auth/jwks.json``.

``HUB_OIDC_CLIENT_KEY_FILE`` holds one or more PEM private keys (RSA or EC P-256). The
**first** one signs; every one is published, so a new key can be published before it
signs (rotation: add the new key second, let providers fetch it, move it first, later drop
the old one). ``HUB_OIDC_CLIENT_CERT_FILE`` may hold certificates of those keys for
providers that name keys by certificate thumbprint (``x5t#S256``, as Entra ID does). Off
production, a key is generated into the instance folder on first use.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import ECKey, RSAKey

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----\s.*?-----END \1-----", re.DOTALL)
GENERATED_NAME = "oidc-client-key.pem"


class ClientKeyUnavailable(RuntimeError):
    """The hub holds no usable private key for private_key_jwt."""


@dataclass(frozen=True)
class ClientKey:
    """One private key the hub may sign client assertions with."""

    key: RSAKey | ECKey
    kid: str
    #: Base64url SHA-256 thumbprint of its certificate (``x5t#S256``), if one was given.
    x5t_s256: str | None = None
    #: Its certificate chain as JWK ``x5c`` (base64 DER), if given.
    x5c: tuple[str, ...] = ()

    @property
    def algorithms(self) -> tuple[str, ...]:
        """Signature algorithms this key can make, the usual choice first."""
        if isinstance(self.key, ECKey):
            return ("ES256",)
        return ("RS256", "RS512", "RS384", "PS256", "PS512", "PS384")

    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = {**self.key.as_dict(private=False), "kid": self.kid, "use": "sig"}
        if self.x5c:
            jwk["x5c"] = list(self.x5c)
        if self.x5t_s256:
            jwk["x5t#S256"] = self.x5t_s256
        return jwk


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _blocks(data: bytes, kind: str) -> list[bytes]:
    return [m.group(0) for m in _PEM_BLOCK.finditer(data) if kind in m.group(1).decode()]


def _public_numbers(key: Any) -> Any:
    return key.public_key().public_numbers() if hasattr(key, "public_key") else None


def parse_keys(key_pem: bytes, cert_pem: bytes = b"") -> list[ClientKey]:
    """Read PEM private keys (and optional certificates) into client keys, in file order."""
    certificates = [x509.load_pem_x509_certificate(b) for b in _blocks(cert_pem, "CERTIFICATE")]
    found: list[ClientKey] = []
    for block in _blocks(key_pem, "PRIVATE KEY"):
        private = serialization.load_pem_private_key(block, password=None)
        if isinstance(private, rsa.RSAPrivateKey):
            if private.key_size < 2048:
                raise ClientKeyUnavailable("an RSA client key must have 2048 bits or more")
            key: RSAKey | ECKey = RSAKey.import_key(block)
        elif isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1":
            key = ECKey.import_key(block)
        else:
            raise ClientKeyUnavailable("client keys must be RSA (2048+) or EC P-256")
        numbers = _public_numbers(private)
        chain = [c for c in certificates if c.public_key().public_numbers() == numbers]
        der = chain[0].public_bytes(serialization.Encoding.DER) if chain else None
        found.append(
            ClientKey(
                key=key,
                kid=key.thumbprint(),
                x5t_s256=_b64url(hashlib.sha256(der).digest()) if der else None,
                x5c=tuple(
                    base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
                    for c in chain
                ),
            )
        )
    return found


def _generate(path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def load_client_keys(
    *, key_file: str, cert_file: str, instance_path: str, production: bool
) -> list[ClientKey]:
    """The hub's client keys from configuration; generated once off production."""
    if key_file:
        path = Path(key_file)
    elif production:
        return []
    else:
        path = Path(instance_path) / GENERATED_NAME
        if not path.exists():
            _generate(path)
    try:
        key_pem = path.read_bytes()
        cert_pem = Path(cert_file).read_bytes() if cert_file else b""
    except OSError as error:
        raise ClientKeyUnavailable(f"cannot read {error.filename}") from None
    keys = parse_keys(key_pem, cert_pem)
    if not keys:
        raise ClientKeyUnavailable(f"{path} holds no PEM private key")
    return keys


def client_keys() -> list[ClientKey]:
    """This application's client keys (read once per process)."""
    from flask import current_app

    found: list[ClientKey] | None = current_app.extensions.get("hub.client_keys")
    if found is None:
        settings = current_app.extensions["hub.settings"]
        found = load_client_keys(
            key_file=settings.oidc_client_key_file,
            cert_file=settings.oidc_client_cert_file,
            instance_path=settings.instance_path,
            production=settings.is_production,
        )
        current_app.extensions["hub.client_keys"] = found
    return found


def signing_key() -> ClientKey:
    keys = client_keys()
    if not keys:
        raise ClientKeyUnavailable(
            "the hub has no client key: set HUB_OIDC_CLIENT_KEY_FILE to a PEM private key"
        )
    return keys[0]


def public_jwks() -> dict[str, Any]:
    return {"keys": [k.public_jwk() for k in client_keys()]}
