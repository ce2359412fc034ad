"""Local sign-in: argon2id passwords, TOTP, lockout, invitations and server-side sessions."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from agencies.models import Member
from agencies.services import find_member_by_email
from audit.ledger import Subject, record, record_in
from hub.auth.models import Invitation, LocalCredential, MemberSession
from hub.core import db
from hub.core.access import Actor
from hub.core.clock import now
from hub.core.errors import ValidationFailed

MIN_PASSWORD = 12
MAX_PASSWORD = 256
INVITATION_DAYS = 7
TOTP_ISSUER = "MARAC Hub"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

SIGN_IN_FAILED = (
    "The email address or password is not right, or sign-in is paused after too many "
    "attempts. Check them and try again in a few minutes."
)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed({"password": f"Password must be {MIN_PASSWORD} characters or more"})
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed({"password": f"Password must be {MAX_PASSWORD} characters or fewer"})
    if len(set(password)) < 4:
        raise ValidationFailed({"password": "Password is too easy to guess: use a longer phrase"})


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def set_password(
    actor: Actor, member: Member, password: str, *, demo: bool = False
) -> LocalCredential:
    """Set a member's local password (validated), creating the credential if needed."""
    check_password_rules(password)
    credential = db.session().get(LocalCredential, member.id)
    if credential is None:
        credential = LocalCredential(
            member_id=member.id, password_hash=hash_password(password), is_demo=demo
        )
        db.session().add(credential)
    else:
        credential.password_hash = hash_password(password)
        credential.password_changed_at = now()
        credential.failed_count = 0
        credential.locked_until = None
    db.session().flush()
    record(actor, "credential:password_set", Subject("member", member.id))
    return credential


@dataclass
class PasswordCheck:
    member: Member | None
    credential: LocalCredential | None
    ok: bool
    reason: str  # ok, unknown, wrong_password, locked, inactive, no_password


def check_password(
    email: str, password: str, *, max_failures: int, lockout_minutes: int
) -> PasswordCheck:
    """Check an email and password; the caller shows the same message whatever failed."""
    member = find_member_by_email(email) if email else None
    credential = db.session().get(LocalCredential, member.id) if member else None
    if member is None or credential is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password or "x")
        return PasswordCheck(member, None, False, "unknown" if member is None else "no_password")
    if credential.locked_until is not None and credential.locked_until > now():
        return PasswordCheck(member, credential, False, "locked")
    try:
        _hasher.verify(credential.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return PasswordCheck(member, credential, False, "wrong_password")
    if not member.can_sign_in():
        return PasswordCheck(member, credential, False, "inactive")
    if _hasher.check_needs_rehash(credential.password_hash):
        credential.password_hash = hash_password(password)
    return PasswordCheck(member, credential, True, "ok")


def register_failed_sign_in(
    member_id: int | None, reason: str, *, max_failures: int, lockout_minutes: int, request_id: str
) -> None:
    """Count a failure and record it, in a transaction of its own (the request rolls back)."""
    actor = Actor(
        kind="anonymous",
        member_id=None,
        agency_id=None,
        area_id=None,
        roles=frozenset(),
        name="anonymous",
        request_id=request_id,
    )

    def write(session: Session) -> None:
        outcome = reason
        if member_id is not None:
            credential = session.get(LocalCredential, member_id)
            if credential is not None and reason in {"wrong_password", "wrong_code"}:
                credential.failed_count += 1
                if credential.failed_count >= max_failures:
                    credential.locked_until = now() + timedelta(minutes=lockout_minutes)
                    credential.failed_count = 0
                    outcome = reason + "_locked"
        record_in(
            session,
            actor,
            "signin:failed",
            Subject("member", member_id) if member_id is not None else None,
            {"reason": outcome, "method": "local"},
        )

    db.in_own_transaction(write)


# --- TOTP ---------------------------------------------------------------------------------


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def matching_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """Return the time step a code belongs to (allowing one step of clock drift), or None."""
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if at is None else at
    current = totp.timecode(datetime.fromtimestamp(moment))
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def verify_totp(credential: LocalCredential, code: str) -> bool:
    """Accept a code once: a replayed code (same or older step) is refused."""
    if credential.totp_secret is None:
        return False
    step = matching_step(credential.totp_secret, code)
    if step is None:
        return False
    if credential.totp_last_step is not None and step <= credential.totp_last_step:
        return False
    credential.totp_last_step = step
    credential.failed_count = 0
    return True


def confirm_totp(actor: Actor, credential: LocalCredential, secret: str, code: str) -> bool:
    """Finish enrolment when the code proves the authenticator holds the secret."""
    step = matching_step(secret, code)
    if step is None:
        return False
    credential.totp_secret = secret
    credential.totp_confirmed_at = now()
    credential.totp_last_step = step
    db.session().flush()
    record(actor, "credential:totp_enrolled", Subject("member", credential.member_id))
    return True


# --- Invitations --------------------------------------------------------------------------


def create_invitation(actor: Actor, member: Member) -> str:
    """Make a one-time link token for a new member; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    db.session().add(
        Invitation(
            id=_digest(token),
            member_id=member.id,
            expires_at=now() + timedelta(days=INVITATION_DAYS),
        )
    )
    db.session().flush()
    record(actor, "invitation:created", Subject("member", member.id))
    return token


def find_invitation(token: str) -> Invitation | None:
    invitation = db.session().get(Invitation, _digest(token))
    if invitation is None or invitation.used_at is not None or invitation.expires_at < now():
        return None
    return invitation


def accept_invitation(invitation: Invitation, member: Member, password: str) -> LocalCredential:
    actor = Actor(
        kind="member",
        member_id=member.id,
        agency_id=member.agency_id,
        area_id=None,
        roles=frozenset(),
        name=member.name,
    )
    credential = set_password(actor, member, password)
    invitation.used_at = now()
    record(actor, "invitation:accepted", Subject("member", member.id))
    return credential


# --- Sessions -----------------------------------------------------------------------------


def start_session(
    member: Member,
    *,
    method: str,
    idp_id: int | None = None,
    id_token_hint: str | None = None,
    request_id: str = "",
) -> str:
    """Start a session and return the token for the browser (its hash is stored)."""
    token = secrets.token_urlsafe(32)
    moment = now()
    db.session().add(
        MemberSession(
            id=_digest(token),
            member_id=member.id,
            method=method,
            created_at=moment,
            authenticated_at=moment,
            last_seen_at=moment,
            idp_id=idp_id,
            id_token_hint=id_token_hint,
        )
    )
    member.last_signed_in_at = moment
    db.session().flush()
    from agencies.services import actor_for

    record(
        actor_for(member, request_id=request_id or None),
        "signin:succeeded",
        Subject("member", member.id),
        method=method,
    )
    return token


@dataclass
class ResolvedSession:
    row: MemberSession
    member: Member


def resolve_session(token: str, *, idle_minutes: int) -> ResolvedSession | None:
    """Find the live session for a token, ending it if it went idle or the member lost access."""
    row = db.session().get(MemberSession, _digest(token))
    if row is None or row.ended_at is not None:
        return None
    moment = now()
    member = db.session().get(Member, row.member_id)
    if row.last_seen_at + timedelta(minutes=idle_minutes) < moment:
        _end(row, "idle")
        return None
    if member is None or not member.can_sign_in():
        _end(row, "disabled")
        return None
    if moment - row.last_seen_at > timedelta(seconds=30):
        row.last_seen_at = moment  # coarse, to keep writes per request low
    return ResolvedSession(row, member)


def _end(row: MemberSession, reason: str) -> None:
    # Written in a transaction of its own so the end sticks even when the request that
    # noticed it is refused and rolled back.
    def write(session: Session) -> None:
        session.execute(
            update(MemberSession)
            .where(MemberSession.id == row.id, MemberSession.ended_at.is_(None))
            .values(ended_at=now(), end_reason=reason)
        )

    db.in_own_transaction(write)
    row.ended_at = now()
    row.end_reason = reason


def end_session(actor: Actor, token: str, reason: str = "signed_out") -> MemberSession | None:
    row = db.session().get(MemberSession, _digest(token))
    if row is None or row.ended_at is not None:
        return None
    row.ended_at = now()
    row.end_reason = reason
    db.session().flush()
    record(actor, "signout:succeeded", Subject("member", row.member_id), reason=reason)
    return row


def mark_reauthenticated(token: str) -> None:
    row = db.session().get(MemberSession, _digest(token))
    if row is not None:
        row.authenticated_at = now()


def live_sessions(member_id: int) -> list[MemberSession]:
    return list(
        db.session()
        .execute(
            select(MemberSession).where(
                MemberSession.member_id == member_id, MemberSession.ended_at.is_(None)
            )
        )
        .scalars()
    )


# --- Step-up and signing out at the provider ---------------------------------------------


def confirm_reauthenticated(
    actor: Actor, token: str, *, method: str, id_token_hint: str | None = None
) -> None:
    """Record that the signed-in person has just proved it is them again (step-up)."""
    row = db.session().get(MemberSession, _digest(token))
    if row is None or row.ended_at is not None:
        return
    row.authenticated_at = now()
    if id_token_hint is not None:
        row.id_token_hint = id_token_hint
    db.session().flush()
    record(actor, "signin:reauthenticated", Subject("member", row.member_id), method=method)


@dataclass
class StepUpNeeds:
    needs_code: bool


def step_up_requirements(actor: Actor) -> StepUpNeeds:
    credential = db.session().get(LocalCredential, actor.member_id)
    return StepUpNeeds(
        needs_code=credential is None or credential.has_totp or not credential.is_demo
    )


def check_step_up(
    actor: Actor, password: str, code: str, *, demo: bool, max_failures: int, lockout_minutes: int
) -> str:
    """Check a signed-in local member's password and security code again; "ok" or a reason.

    Failures count towards the same lockout as sign-in.
    """
    member = db.session().get(Member, actor.member_id)
    if member is None:
        return "unknown"
    check = check_password(
        member.email, password, max_failures=max_failures, lockout_minutes=lockout_minutes
    )
    reason = check.reason
    if check.ok and check.credential is not None:
        if check.credential.has_totp:
            reason = "ok" if verify_totp(check.credential, code) else "wrong_code"
        else:
            # Only demo accounts in demo mode ever hold a session without a second factor.
            reason = "ok" if (check.credential.is_demo and demo) else "no_second_factor"
    if reason != "ok":
        register_failed_sign_in(
            member.id,
            reason,
            max_failures=max_failures,
            lockout_minutes=lockout_minutes,
            request_id=actor.request_id,
        )
    return reason


@dataclass
class EndedAtProvider:
    idp_id: int
    hint: str | None


def take_logout_hint(session_id: str | None) -> EndedAtProvider | None:
    """For a session that just ended: its provider and ID token, handed out once."""
    if not session_id:
        return None
    row = db.session().get(MemberSession, session_id)
    if (
        row is None
        or row.ended_at is None
        or row.idp_id is None
        or row.ended_at < now() - timedelta(minutes=5)
    ):
        return None
    hint, row.id_token_hint = row.id_token_hint, None
    db.session().flush()
    return EndedAtProvider(row.idp_id, hint)
