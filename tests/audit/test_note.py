"""Check audit.note: known answers, round trips, and that every corruption is refused."""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import note
from audit.note import NoteError

ORIGIN = "hub.example.org/ledger"
SKEY = note.generate_signer_key(ORIGIN)
VKEY = note.vkey_from_skey(SKEY)
OTHER_SKEY = note.generate_signer_key(ORIGIN)  # same name, another key
ROOT = hashlib.sha256(b"root").digest()
BODY = note.format_checkpoint(ORIGIN, 1234, ROOT)
SIGNED = note.sign_note(BODY, SKEY)
ED25519 = b"\x01"
SETTINGS = settings(max_examples=200, deadline=None)

# The example of the reference implementation's documentation and the C2SP spec's example.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    b"If you think cryptography is the answer to your problem,\n"
    b"then you don't know what your problem is.\n"
)
GO_SIG = (
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
)
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_SIG = (
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM="
)
SPEC_NOTE = f"This is an example message.\n\n\u2014 example.com/foo {SPEC_SIG}\n".encode()


def test_reference_example_byte_for_byte() -> None:
    assert note.vkey_from_skey(GO_SKEY) == GO_VKEY
    signed = note.sign_note(GO_TEXT, GO_SKEY)
    assert signed == GO_TEXT + f"\n\u2014 PeterNeumann {GO_SIG}\n".encode()
    assert note.open_note(signed, GO_VKEY) == GO_TEXT
    name, kid, public = note.parse_vkey(GO_VKEY)
    assert (name, kid.hex()) == ("PeterNeumann", "c74f20a3")
    assert note.key_id(name, public) == kid


def test_spec_example_opens() -> None:
    assert note.open_note(SPEC_NOTE, SPEC_VKEY) == b"This is an example message.\n"
    with pytest.raises(NoteError):
        note.open_note(SPEC_NOTE, GO_VKEY)


def test_checkpoint_round_trip() -> None:
    assert f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\n".encode() == BODY
    checkpoint = note.open_checkpoint(SIGNED, VKEY, origin=ORIGIN)
    assert checkpoint == note.Checkpoint(ORIGIN, 1234, ROOT, ())
    body = note.format_checkpoint(ORIGIN, 0, ROOT, ["ext one", "ext two"])
    opened = note.open_checkpoint(note.sign_note(body, SKEY), VKEY)
    assert opened.extensions == ("ext one", "ext two")
    assert opened.size == 0
    big = note.format_checkpoint(ORIGIN, 2**64 - 1, ROOT)
    assert note.open_checkpoint(note.sign_note(big, SKEY), VKEY).size == 2**64 - 1


def test_key_formats() -> None:
    name, kid, public = note.parse_vkey(VKEY)
    assert name == ORIGIN
    assert len(public) == 32
    encoded = base64.b64encode(ED25519 + public).decode()
    assert f"{ORIGIN}+{kid.hex()}+{encoded}" == VKEY
    assert SKEY.startswith(f"PRIVATE+KEY+{ORIGIN}+{kid.hex()}+")
    assert SKEY != OTHER_SKEY


def test_other_signatures_are_ignored_but_ours_is_required() -> None:
    witness = note.generate_signer_key("witness.example")
    cosigned = SIGNED + note.sign_note(BODY, witness)[len(BODY) + 1 :]
    assert note.open_checkpoint(cosigned, VKEY).size == 1234
    assert note.open_checkpoint(cosigned, note.vkey_from_skey(witness)).size == 1234
    only_witness = note.sign_note(BODY, witness)
    with pytest.raises(NoteError, match="not signed by key"):
        note.open_checkpoint(only_witness, VKEY)


def test_split_note_shows_unverified_parts() -> None:
    body, signatures = note.split_note(SIGNED)
    assert body == BODY
    assert [s.name for s in signatures] == [ORIGIN]
    assert len(signatures[0].signature) == 64


def corruptions() -> dict[str, tuple[bytes, str]]:
    text = SIGNED.decode()
    sig_line = text[text.rindex("\n\n") + 2 :]
    encoded = sig_line.split(" ")[2].strip()
    raw = base64.b64decode(encoded)
    flipped = base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()
    return {
        "body edit": (SIGNED.replace(b"1234", b"1235"), VKEY),
        "other key": (note.sign_note(BODY, OTHER_SKEY), VKEY),
        "other vkey": (SIGNED, note.vkey_from_skey(OTHER_SKEY)),
        "truncated signature": (text.replace(encoded, encoded[:-8]).encode(), VKEY),
        "short signature": (
            text.replace(encoded, base64.b64encode(raw[:40]).decode()).encode(),
            VKEY,
        ),
        "flipped signature": (text.replace(encoded, flipped).encode(), VKEY),
        "wrong key name in vkey": (SIGNED, _rename_vkey(VKEY, "hub.example.org/other")),
        "wrong key name in note": (SIGNED.replace(b"\xe2\x80\x94 hub", b"\xe2\x80\x94 xhub"), VKEY),
        "no signature": (BODY + b"\n", VKEY),
        "no blank line": (BODY, VKEY),
        "hyphen for em dash": (SIGNED.replace("\u2014".encode(), b"-"), VKEY),
        "no final newline": (SIGNED[:-1], VKEY),
        "extra text after signatures": (SIGNED + b"trailing\n", VKEY),
        "signature line without space": (text.replace(f"{ORIGIN} ", ORIGIN).encode(), VKEY),
        "control character": (SIGNED.replace(b"1234", b"12\x0134"), VKEY),
        "bad utf-8": (SIGNED.replace(b"1234", b"12\xff4"), VKEY),
        "empty": (b"", VKEY),
        "garbage": (b"\x00\x01garbage\n\n\n", VKEY),
    }


def _rename_vkey(vkey: str, name: str) -> str:
    _, _, public = note.parse_vkey(vkey)
    kid = note.key_id(name, public)
    encoded = base64.b64encode(ED25519 + public).decode()
    return f"{name}+{kid.hex()}+{encoded}"


@pytest.mark.parametrize("case", sorted(corruptions()))
def test_each_corruption_is_refused(case: str) -> None:
    signed, vkey = corruptions()[case]
    with pytest.raises(NoteError):
        note.open_checkpoint(signed, vkey)


def test_wrong_origin_is_refused() -> None:
    with pytest.raises(NoteError, match="origin"):
        note.open_checkpoint(SIGNED, VKEY, origin="other.example/log")


@pytest.mark.parametrize(
    "body",
    [
        b"origin\n01\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n-1\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n1.0\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n\xd9\xa1\n" + base64.b64encode(ROOT) + b"\n",  # an Arabic-Indic digit
        b"origin\n18446744073709551616\n" + base64.b64encode(ROOT) + b"\n",
        b"origin\n5\n" + base64.b64encode(ROOT[:31]) + b"\n",
        b"origin\n5\n" + base64.b64encode(ROOT).rstrip(b"=") + b"\n",
        b"origin\n5\n" + base64.b64encode(ROOT) + b"\n\n",
        b"origin\n5\n" + base64.b64encode(ROOT),
        b"origin\n5\n",
        b"\n5\n" + base64.b64encode(ROOT) + b"\n",
        b"",
    ],
)
def test_malformed_checkpoint_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(NoteError):
        note.parse_checkpoint(body)
    try:
        signed = note.sign_note(body, SKEY)
    except NoteError:
        return
    with pytest.raises(NoteError):
        note.open_checkpoint(signed, VKEY)


def test_non_canonical_base64_root_is_refused() -> None:
    encoded = base64.b64encode(ROOT)
    # The last digit before '=' carries two padding bits that must be zero.
    last = encoded[42:43]
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    twisted = encoded[:42] + alphabet[alphabet.index(last) ^ 1 : (alphabet.index(last) ^ 1) + 1]
    assert base64.b64decode(twisted + b"=") == ROOT
    with pytest.raises(NoteError, match="canonical"):
        note.parse_checkpoint(b"origin\n5\n" + twisted + b"=\n")


@pytest.mark.parametrize(
    "args",
    [
        ("", 1, ROOT),
        ("a\nb", 1, ROOT),
        (ORIGIN, -1, ROOT),
        (ORIGIN, True, ROOT),
        (ORIGIN, 2**64, ROOT),
        (ORIGIN, 1, ROOT[:5]),
        (ORIGIN, 1, "x" * 32),
        (ORIGIN, 1, ROOT, ["ok", ""]),
        (ORIGIN, 1, ROOT, ["a\nb"]),
        (ORIGIN, 1, ROOT, "not a list"),
        ("\udc80", 1, ROOT),
    ],
)
def test_format_checkpoint_refuses_bad_input(args: tuple[Any, ...]) -> None:
    with pytest.raises(NoteError):
        note.format_checkpoint(*args)


@pytest.mark.parametrize("name", ["", "a+b", "a b", "tab\there", "nl\n", "\udc80", 5, None])
def test_bad_key_names_are_refused(name: Any) -> None:
    with pytest.raises(NoteError):
        note.generate_signer_key(name)


def test_sign_note_refuses_bad_bodies_and_keys() -> None:
    for body in [b"no newline", "text\n", b"\xff\n", b"ctl\x02\n"]:
        with pytest.raises(NoteError):
            note.sign_note(body, SKEY)  # type: ignore[arg-type]
    for skey in [VKEY, SKEY[:-4], SKEY.replace("PRIVATE", "PUBLIC"), "", None]:
        with pytest.raises(NoteError):
            note.sign_note(BODY, skey)  # type: ignore[arg-type]
        with pytest.raises(NoteError):
            note.vkey_from_skey(skey)  # type: ignore[arg-type]


def test_mismatched_key_ids_are_refused() -> None:
    name, kid, rest = VKEY.split("+", 2)
    wrong = f"{name}+{(int(kid, 16) ^ 1):08x}+{rest}"
    with pytest.raises(NoteError, match="key ID"):
        note.open_note(SIGNED, wrong)
    parts = SKEY.split("+", 4)
    parts[3] = f"{(int(parts[3], 16) ^ 1):08x}"
    with pytest.raises(NoteError, match="key ID"):
        note.sign_note(BODY, "+".join(parts))


@SETTINGS
@given(data=st.binary(max_size=300))
def test_garbage_notes_raise_only_note_error(data: bytes) -> None:
    with pytest.raises(NoteError):
        note.open_checkpoint(data, VKEY)
    try:
        note.split_note(data)
        note.parse_checkpoint(data)
    except NoteError:
        pass


@SETTINGS
@given(position=st.integers(min_value=0), change=st.integers(1, 255), kind=st.integers(0, 2))
def test_every_single_byte_change_is_refused(position: int, change: int, kind: int) -> None:
    i = position % len(SIGNED)
    if kind == 0:
        mutated = SIGNED[:i] + bytes([SIGNED[i] ^ change]) + SIGNED[i + 1 :]
    elif kind == 1:
        mutated = SIGNED[:i] + SIGNED[i + 1 :]
    else:
        mutated = SIGNED[:i] + bytes([change]) + SIGNED[i:]
    with pytest.raises(NoteError):
        note.open_checkpoint(mutated, VKEY)


junk = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=80),
    st.binary(max_size=80),
    st.lists(st.text(max_size=3), max_size=3),
    st.from_type(bytearray),
)


@SETTINGS
@given(a=junk, b=junk)
def test_garbage_keys_and_arguments_raise_only_note_error(a: Any, b: Any) -> None:
    calls: list[Callable[[], object]] = [
        lambda: note.open_checkpoint(SIGNED, a),
        lambda: note.open_checkpoint(a, VKEY),
        lambda: note.open_checkpoint(a, b),
        lambda: note.open_checkpoint(SIGNED, VKEY, origin=a),
        lambda: note.sign_note(a, SKEY),
        lambda: note.sign_note(BODY, a),
        lambda: note.vkey_from_skey(a),
        lambda: note.parse_vkey(a),
        lambda: note.parse_checkpoint(a),
        lambda: note.format_checkpoint(a, b, ROOT),
        lambda: note.generate_signer_key(a),
    ]
    for call in calls:
        with contextlib.suppress(NoteError):
            call()
