"""C2SP signed notes and tlog checkpoints, signed with Ed25519.

A signed note is a UTF-8 text body ending in a newline, a blank line, then one line per
signature: ``— <key name> <base64(key ID || signature)>`` (U+2014 em dash). The key ID of
an Ed25519 key is the first four bytes of SHA-256(name || 0x0A || 0x01 || public key), so
a signature names the exact key that made it and signatures by other keys (witnesses, say)
can sit beside it and be ignored.

Keys travel as text: the verifier key ``<name>+<hex key ID>+<base64(0x01 || public key)>``
and the signer key ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``.

A checkpoint body is the log's origin line, the decimal tree size, the base64 root hash,
then optional non-empty extension lines, each line ending in a newline.

Every function here raises NoteError, and nothing else, on malformed input.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "Checkpoint",
    "NoteError",
    "NoteSignature",
    "format_checkpoint",
    "generate_signer_key",
    "key_id",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "parse_vkey",
    "sign_note",
    "split_note",
    "vkey_from_skey",
]

ALG_ED25519 = 0x01
EM_DASH = "\u2014"
_SIG_PREFIX = EM_DASH + " "
# The reference implementation's bound: a note is not a place for unbounded work.
MAX_SIGNATURES = 100
_MAX_SIZE = 2**64 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
# Newline is the only control character a note may hold.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_HEX8 = re.compile(r"[0-9a-f]{8}", re.ASCII)


class NoteError(ValueError):
    """A note, key or checkpoint is malformed, or a signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """The parsed body of a tlog checkpoint."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note, not yet verified."""

    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class _Verifier:
    name: str
    key_id: bytes
    key: Ed25519PublicKey


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise NoteError("a key name must be a non-empty string")
    if "+" in name or any(ch.isspace() for ch in name) or _CONTROL.search(name):
        raise NoteError(f"key name {name!r} may not contain '+', spaces or control characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError(f"key name {name!r} is not valid Unicode text") from None
    return name


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, binascii.Error):
        raise NoteError(f"{what} is not valid base64") from None
    # Refuse the several spellings base64 allows for one value (stray padding bits).
    if base64.b64encode(raw).decode("ascii") != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def key_id(name: str, public_key: bytes) -> bytes:
    """Return the 4-byte key ID of an Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    name = _check_name(name)
    if not isinstance(public_key, bytes) or len(public_key) != 32:
        raise NoteError("an Ed25519 public key is 32 bytes")
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + public_key)
    return digest.digest()[:4]


def generate_signer_key(name: str) -> str:
    """Return a new Ed25519 signer key (skey text) for the key name ``name``."""
    name = _check_name(name)
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    kid = key_id(name, private.public_key().public_bytes_raw())
    return f"PRIVATE+KEY+{name}+{kid.hex()}+{_b64encode(bytes([ALG_ED25519]) + seed)}"


def _parse_skey(skey: object) -> tuple[str, bytes, Ed25519PrivateKey]:
    if not isinstance(skey, str):
        raise NoteError("a signer key must be a string")
    parts = skey.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise NoteError("a signer key has the form PRIVATE+KEY+<name>+<key ID>+<key>")
    name = _check_name(parts[2])
    if not _HEX8.fullmatch(parts[3]):
        raise NoteError("a signer key's key ID must be 8 lowercase hex digits")
    raw = _b64(parts[4], "signer key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("the signer key is not an Ed25519 key")
    private = Ed25519PrivateKey.from_private_bytes(raw[1:])
    kid = key_id(name, private.public_key().public_bytes_raw())
    if kid.hex() != parts[3]:
        raise NoteError("the signer key's key ID does not match its key")
    return name, kid, private


def vkey_from_skey(skey: str) -> str:
    """Return the verifier key (vkey text) of a signer key."""
    name, kid, private = _parse_skey(skey)
    public = private.public_key().public_bytes_raw()
    return f"{name}+{kid.hex()}+{_b64encode(bytes([ALG_ED25519]) + public)}"


def _parse_vkey(vkey: object) -> _Verifier:
    if not isinstance(vkey, str):
        raise NoteError("a verifier key must be a string")
    # The name holds no '+'; the base64 key may, so split at most twice.
    parts = vkey.split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key has the form <name>+<key ID>+<key>")
    name = _check_name(parts[0])
    if not _HEX8.fullmatch(parts[1]):
        raise NoteError("a verifier key's key ID must be 8 lowercase hex digits")
    raw = _b64(parts[2], "verifier key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("the verifier key is not an Ed25519 key")
    kid = key_id(name, raw[1:])
    if kid.hex() != parts[1]:
        raise NoteError("the verifier key's key ID does not match its key")
    try:
        key = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError:
        raise NoteError("the verifier key is not a valid Ed25519 public key") from None
    return _Verifier(name, kid, key)


def parse_vkey(vkey: str) -> tuple[str, bytes, bytes]:
    """Return (name, key ID, 32-byte public key) of a verifier key, checking it whole."""
    verifier = _parse_vkey(vkey)
    return verifier.name, verifier.key_id, verifier.key.public_bytes_raw()


def _text(data: object, what: str) -> str:
    if not isinstance(data, bytes):
        raise NoteError(f"{what} must be bytes, not {type(data).__name__}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None
    if _CONTROL.search(text):
        raise NoteError(f"{what} holds control characters other than newline")
    return text


def sign_note(body: bytes, skey: str) -> bytes:
    """Sign a note body (UTF-8 text ending in a newline) and return the signed note."""
    name, kid, private = _parse_skey(skey)
    text = _text(body, "note body")
    if not text.endswith("\n"):
        raise NoteError("a note body must end with a newline")
    signature = private.sign(body)
    line = f"{_SIG_PREFIX}{name} {_b64encode(kid + signature)}\n"
    return body + b"\n" + line.encode("utf-8")


def split_note(note: bytes) -> tuple[bytes, list[NoteSignature]]:
    """Split a signed note into its body and signature lines, verifying nothing.

    Useful only to describe a note that failed to open; never trust what it returns.
    """
    text = _text(note, "note")
    if not text.endswith("\n"):
        raise NoteError("a signed note must end with a newline")
    cut = text.rfind("\n\n")
    if cut < 0:
        raise NoteError("the note has no signature block (no blank line)")
    body, block = text[: cut + 1], text[cut + 2 :]
    if not block:
        raise NoteError("the note has no signatures")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("a signature line must start with an em dash and a space")
        name, space, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        if not space:
            raise NoteError("a signature line must hold a key name and a signature")
        name = _check_name(name)
        raw = _b64(encoded, f"signature by {name}")
        if len(raw) < 5:
            raise NoteError(f"signature by {name} is too short")
        signatures.append(NoteSignature(name, raw[:4], raw[4:]))
    return body.encode("utf-8"), signatures


def open_note(note: bytes, vkey: str) -> bytes:
    """Verify a signed note against a verifier key and return its body.

    Signatures by other keys are ignored, as the format requires; a signature that names
    this key but does not verify rejects the note.
    """
    verifier = _parse_vkey(vkey)
    body, signatures = split_note(note)
    found = False
    others = []
    for sig in signatures:
        if sig.name != verifier.name or sig.key_id != verifier.key_id:
            others.append(f"{sig.name}+{sig.key_id.hex()}")
            continue
        try:
            if len(sig.signature) != 64:
                raise InvalidSignature
            verifier.key.verify(sig.signature, body)
        except InvalidSignature:
            raise NoteError(f"the signature by {verifier.name} does not verify") from None
        found = True
    if not found:
        wanted = f"{verifier.name}+{verifier.key_id.hex()}"
        raise NoteError(f"the note is not signed by key {wanted}; only by {', '.join(others)}")
    return body


def format_checkpoint(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...] | list[str] = ()
) -> bytes:
    """Return the checkpoint body for a tree of ``size`` leaves with root hash ``root``."""
    if not isinstance(origin, str) or not origin:
        raise NoteError("a checkpoint origin must be a non-empty string")
    if type(size) is not int or not 0 <= size <= _MAX_SIZE:
        raise NoteError("a checkpoint tree size must be an int in 0..2**64-1")
    if not isinstance(root, bytes) or len(root) != 32:
        raise NoteError("a checkpoint root hash must be 32 bytes")
    if not isinstance(extensions, tuple | list):
        raise NoteError("checkpoint extensions must be a list of lines")
    for line in (origin, *extensions):
        if not isinstance(line, str) or not line or "\n" in line or _CONTROL.search(line):
            raise NoteError("checkpoint lines must be non-empty, single-line text")
    text = "".join(f"{line}\n" for line in (origin, str(size), _b64encode(root), *extensions))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise NoteError("checkpoint lines must be valid Unicode text") from None


def parse_checkpoint(body: bytes) -> Checkpoint:
    """Parse a checkpoint body (not its signatures)."""
    text = _text(body, "checkpoint")
    if not text.endswith("\n"):
        raise NoteError("a checkpoint must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteError("a checkpoint needs an origin, a tree size and a root hash")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise NoteError("the checkpoint origin line is empty")
    if not _DECIMAL.fullmatch(size_text) or int(size_text) > _MAX_SIZE:
        raise NoteError(f"checkpoint tree size {size_text!r} is not a decimal uint64")
    root = _b64(root_text, "checkpoint root hash")
    if len(root) != 32:
        raise NoteError("the checkpoint root hash is not 32 bytes")
    if any(not line for line in extensions):
        raise NoteError("checkpoint extension lines must not be empty")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def open_checkpoint(note: bytes, vkey: str, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint and return it; check its origin when one is expected."""
    checkpoint = parse_checkpoint(open_note(note, vkey))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(
            f"the checkpoint is for origin {checkpoint.origin!r}, not the expected {origin!r}"
        )
    return checkpoint
