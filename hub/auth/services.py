"""Local sign-in: argon2id passwords, TOTP, lockout, invitations, resets and sessions.

Three rules hold at every step a person proves who they are (password, security code,
enrolment code, step-up):

- **Lockout applies to every factor.** Wrong passwords and wrong codes count towards the
  same limit; while an account is locked nothing is checked and nothing lets it in, not
  even the right password or code.
- **The answer takes the same time** whether the account exists, is locked or is
  disabled: the password hash is always verified (against a dummy hash when there is
  none), and only afterwards is the outcome chosen.
- **Hashing never holds the database, nor every core.** argon2id costs half a second of
  CPU on purpose; it runs with no transaction open (SQLite's single write lock is taken at
  a request's first query), and at most half the cores hash at once, so thirty wrong
  passwords arriving together queue behind each other instead of starving every other
  request of CPU. Failures are counted with one atomic UPDATE, in a transaction of their
  own, so parallel failures are neither lost nor double-counted.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from agencies.models import Member
from agencies.services import find_member_by_email
from audit.actions import LedgerAction
from audit.ledger import Subject, record, record_in
from hub.auth.models import CredentialReset, Invitation, LocalCredential, MemberSession
from hub.core import db
from hub.core.access import Actor, Role
from hub.core.clock import now
from hub.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

MIN_PASSWORD = 12
MAX_PASSWORD = 256
INVITATION_DAYS = 7
#: How long a secret shown for enrolment stays the one to confirm.
ENROLMENT_MINUTES = 15
TOTP_ISSUER = "MARAC Hub"
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown, so both paths cost the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
#: How many password hashes this process computes at once (each uses several cores).
_HASHING = threading.BoundedSemaphore(max(1, (os.cpu_count() or 2) // 2))
#: Failures that count towards the lockout: a wrong secret, at any factor.
COUNTED = frozenset({"wrong_password", "wrong_code"})

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
    with _HASHING:
        return _hasher.hash(password)


def hash_new_password(password: str) -> str:
    """Check a new password's rules and hash it, with no transaction open (see above)."""
    check_password_rules(password)
    db.end_read_transaction()
    return hash_password(password)


def set_password(
    actor: Actor,
    member: Member,
    password: str,
    *,
    demo: bool = False,
    password_hash: str | None = None,
) -> LocalCredential:
    """Set a member's local password (validated), creating the credential if needed.

    A request passes ``password_hash`` made by ``hash_new_password`` before it wrote.
    """
    if password_hash is None:
        check_password_rules(password)
        password_hash = hash_password(password)
    credential = db.session().get(LocalCredential, member.id)
    if credential is None:
        credential = LocalCredential(member_id=member.id, password_hash=password_hash, is_demo=demo)
        db.session().add(credential)
    else:
        credential.password_hash = password_hash
        credential.password_changed_at = now()
        credential.failed_count = 0
        credential.locked_until = None
    db.session().flush()
    record(actor, LedgerAction.CREDENTIAL_PASSWORD_SET, Subject("member", member.id))
    return credential


def is_locked(credential: LocalCredential) -> bool:
    return credential.locked_until is not None and credential.locked_until > now()


@dataclass
class PasswordCheck:
    member: Member | None
    credential: LocalCredential | None
    ok: bool
    reason: str  # ok, unknown, wrong_password, locked, inactive, no_password


def _verify(stored: str, password: str) -> tuple[bool, str | None]:
    """Whether the password matches, and a fresh hash when the parameters have changed."""
    try:
        with _HASHING:
            _hasher.verify(stored, password or "x")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    return True, (hash_password(password) if _hasher.check_needs_rehash(stored) else None)


def check_password(email: str, password: str) -> PasswordCheck:
    """Check an email and password; the caller shows the same message whatever failed.

    Every path verifies one hash and so takes the same time: an unknown address, a member
    without a password, a locked or a disabled account all answer like a wrong password.
    """
    member = find_member_by_email(email) if email else None
    credential = db.session().get(LocalCredential, member.id) if member else None
    stored = credential.password_hash if credential is not None else _DUMMY_HASH
    locked = credential is not None and is_locked(credential)
    db.end_read_transaction()
    ok, new_hash = _verify(stored, password)
    if member is None or credential is None:
        return PasswordCheck(member, None, False, "unknown" if member is None else "no_password")
    if locked:
        return PasswordCheck(member, credential, False, "locked")
    if not ok:
        return PasswordCheck(member, credential, False, "wrong_password")
    if not member.can_sign_in():
        return PasswordCheck(member, credential, False, "inactive")
    if new_hash is not None:
        credential.password_hash = new_hash
    return PasswordCheck(member, credential, True, "ok")


def register_failed_sign_in(
    member_id: int | None, reason: str, *, max_failures: int, lockout_minutes: int, request_id: str
) -> None:
    """Count a failure and record it, in a transaction of its own (the request rolls back).

    The count is one atomic UPDATE: failures arriving together are all counted, and the
    one that reaches the limit locks the account.
    """
    actor = Actor(
        kind="anonymous",
        member_id=None,
        agency_id=None,
        area_id=None,
        roles=frozenset(),
        name="anonymous",
        request_id=request_id,
    )
    counting = max_failures > 0 and lockout_minutes > 0

    def write(session: Session) -> None:
        outcome = reason
        if member_id is not None and counting and reason in COUNTED:
            where = LocalCredential.member_id == member_id
            session.execute(
                update(LocalCredential)
                .where(where)
                .values(failed_count=LocalCredential.failed_count + 1)
                .execution_options(synchronize_session=False)
            )
            count = session.execute(select(LocalCredential.failed_count).where(where)).scalar()
            if count is not None and count >= max_failures:
                session.execute(
                    update(LocalCredential)
                    .where(where)
                    .values(locked_until=now() + timedelta(minutes=lockout_minutes), failed_count=0)
                    .execution_options(synchronize_session=False)
                )
                outcome = reason + "_locked"
        record_in(
            session,
            actor,
            LedgerAction.SIGNIN_FAILED,
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


def check_code(member_id: int, code: str) -> tuple[Member | None, str]:
    """The second factor at sign-in: (member, "ok") or a reason; a locked account fails."""
    member = db.session().get(Member, member_id)
    credential = db.session().get(LocalCredential, member_id)
    if member is None or credential is None:
        return member, "unknown"
    if is_locked(credential):
        return member, "locked"  # nothing is checked while locked, not even the right code
    if not member.can_sign_in():
        return member, "inactive"
    return member, ("ok" if verify_totp(credential, code) else "wrong_code")


def enrolment_secret(credential: LocalCredential) -> str:
    """The secret to show for enrolment: kept on the server, the same until it lapses."""
    moment = now()
    if (
        credential.totp_pending_secret is None
        or credential.totp_pending_at is None
        or credential.totp_pending_at < moment - timedelta(minutes=ENROLMENT_MINUTES)
    ):
        credential.totp_pending_secret = new_totp_secret()
        credential.totp_pending_at = moment
        db.session().flush()
    return credential.totp_pending_secret


def confirm_totp(actor: Actor, credential: LocalCredential, code: str) -> str:
    """Finish enrolment when the code proves the authenticator holds the secret shown.

    Returns "ok", "locked", "expired" (start again) or "wrong_code".
    """
    if is_locked(credential):
        return "locked"
    secret = credential.totp_pending_secret
    if (
        secret is None
        or credential.totp_pending_at is None
        or credential.totp_pending_at < now() - timedelta(minutes=ENROLMENT_MINUTES)
    ):
        return "expired"
    step = matching_step(secret, code)
    if step is None:
        return "wrong_code"
    credential.totp_secret = secret
    credential.totp_confirmed_at = now()
    credential.totp_last_step = step
    credential.totp_pending_secret = None
    credential.totp_pending_at = None
    db.session().flush()
    record(actor, LedgerAction.CREDENTIAL_TOTP_ENROLLED, Subject("member", credential.member_id))
    return "ok"


# --- Invitations and resets ---------------------------------------------------------------


def _agency_uses_provider(member: Member) -> bool:
    from hub.auth.identity import provider_for_agency

    return provider_for_agency(member.agency_id) is not None


def has_account(member: Member) -> bool:
    """Whether the member can already sign in some way: a password, or an agency account."""
    from hub.auth.identity import FederatedIdentity

    if db.session().get(LocalCredential, member.id) is not None:
        return True
    linked = db.session().execute(
        select(func.count())
        .select_from(FederatedIdentity)
        .where(FederatedIdentity.member_id == member.id)
    )
    return bool(linked.scalar_one())


def _refuse_for_provider(member: Member) -> None:
    if _agency_uses_provider(member):
        raise Conflict(
            f"{member.agency.name} signs its people in with their own work accounts: "
            "MARAC Hub passwords cannot be set for its members."
        )


def _new_invitation(member: Member, *, purpose: str, reset_id: int | None = None) -> str:
    # A fresh link makes every earlier unused one useless.
    db.session().execute(
        update(Invitation)
        .where(Invitation.member_id == member.id, Invitation.used_at.is_(None))
        .values(expires_at=now())
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_urlsafe(32)
    db.session().add(
        Invitation(
            id=_digest(token),
            member_id=member.id,
            expires_at=now() + timedelta(days=INVITATION_DAYS),
            purpose=purpose,
            reset_id=reset_id,
        )
    )
    db.session().flush()
    return token


def create_invitation(actor: Actor, member: Member) -> str:
    """Make a one-time link token for a member who has never signed in; only its hash is kept.

    Never for someone who already has an account: whoever holds the link chooses the
    password, so a link for an existing member would let its maker become them. Their
    reset goes through ``request_credential_reset`` instead.
    """
    _refuse_for_provider(member)
    if has_account(member):
        raise Conflict(
            f"{member.name} already has an account. Ask for a reset of their sign-in instead: "
            "their agency's MARAC representative approves it."
        )
    token = _new_invitation(member, purpose="new")
    record(actor, LedgerAction.INVITATION_CREATED, Subject("member", member.id))
    return token


def request_credential_reset(actor: Actor, member: Member) -> CredentialReset:
    """Ask for an existing member's password and authenticator to be reset.

    The member is told at once. Their agency's MARAC representative decides; the link goes
    to the member's own address, never to whoever asked.
    """
    _refuse_for_provider(member)
    if not has_account(member):
        raise Conflict(f"{member.name} has not signed in yet: create a sign-in link instead.")
    pending = (
        db.session()
        .execute(
            select(CredentialReset).where(
                CredentialReset.member_id == member.id, CredentialReset.status == "pending"
            )
        )
        .scalar_one_or_none()
    )
    if pending is not None:
        return pending
    reset = CredentialReset(member_id=member.id, requested_by=actor.member_id, status="pending")
    db.session().add(reset)
    db.session().flush()
    record(
        actor,
        LedgerAction.CREDENTIAL_RESET_REQUESTED,
        Subject("member", member.id),
        agency=member.agency_id,
    )
    from hub.auth import notify

    notify.send(member.email, "reset_requested")
    return reset


def _can_decide(actor: Actor, reset: CredentialReset, member: Member) -> bool:
    """Only a MARAC representative of the member's own agency, not the member, nor the asker."""
    return (
        Role.MARAC_REP in actor.roles
        and actor.agency_id == member.agency_id
        and actor.member_id not in (member.id, reset.requested_by)
    )


def resets_to_decide(actor: Actor) -> list[CredentialReset]:
    if Role.MARAC_REP not in actor.roles:
        return []
    rows = (
        db.session()
        .execute(
            select(CredentialReset)
            .join(Member, CredentialReset.member_id == Member.id)
            .where(CredentialReset.status == "pending", Member.agency_id == actor.agency_id)
            .order_by(CredentialReset.requested_at)
        )
        .scalars()
    )
    return [r for r in rows if _can_decide(actor, r, db.session().get(Member, r.member_id))]


def get_reset_to_decide(actor: Actor, reset_id: int) -> tuple[CredentialReset, Member]:
    reset = db.session().get(CredentialReset, reset_id)
    member = db.session().get(Member, reset.member_id) if reset is not None else None
    if (
        reset is None
        or member is None
        or reset.status != "pending"
        or not _can_decide(actor, reset, member)
    ):
        raise NotFound("There is no such request, or it has already been decided.")
    return reset, member


def decide_credential_reset(actor: Actor, reset: CredentialReset, *, approve: bool) -> Member:
    """Approve (the member is e-mailed a one-time link) or refuse a reset."""
    member = db.session().get(Member, reset.member_id)
    if member is None or reset.status != "pending" or not _can_decide(actor, reset, member):
        raise Forbidden("Only a MARAC representative of the member's own agency may decide this.")
    reset.status = "approved" if approve else "refused"
    reset.decided_by = actor.member_id
    reset.decided_at = now()
    db.session().flush()
    record(
        actor,
        LedgerAction.CREDENTIAL_RESET_APPROVED
        if approve
        else LedgerAction.CREDENTIAL_RESET_REFUSED,
        Subject("member", member.id),
        agency=member.agency_id,
    )
    if approve:
        token = _new_invitation(member, purpose="reset", reset_id=reset.id)
        from hub.auth import notify

        notify.send(member.email, "reset_link", path=f"/invitation/{token}")
    return member


def find_invitation(token: str) -> Invitation | None:
    invitation = db.session().get(Invitation, _digest(token))
    if invitation is None or invitation.used_at is not None or invitation.expires_at < now():
        return None
    return invitation


def accept_invitation(
    invitation: Invitation, member: Member, password_hash: str
) -> LocalCredential:
    """Use a link: a first password, or (a reset) a new password and no authenticator yet.

    A reset also ends every session the member had, and tells them.
    """
    actor = Actor(
        kind="member",
        member_id=member.id,
        agency_id=member.agency_id,
        area_id=None,
        roles=frozenset(),
        name=member.name,
    )
    existing = db.session().get(LocalCredential, member.id)
    if invitation.purpose != "reset" and existing is not None:
        raise Conflict("This link has already been used.")
    credential = set_password(actor, member, "", password_hash=password_hash)
    if invitation.purpose == "reset":
        credential.totp_secret = None
        credential.totp_confirmed_at = None
        credential.totp_last_step = None
        credential.totp_pending_secret = None
        db.session().execute(
            update(MemberSession)
            .where(MemberSession.member_id == member.id, MemberSession.ended_at.is_(None))
            .values(ended_at=now(), end_reason="credential_reset")
            .execution_options(synchronize_session=False)
        )
        if invitation.reset_id is not None:
            reset = db.session().get(CredentialReset, invitation.reset_id)
            if reset is not None:
                reset.status = "used"
        from hub.auth import notify

        notify.send(member.email, "reset_done")
    invitation.used_at = now()
    db.session().flush()
    record(
        actor,
        LedgerAction.INVITATION_ACCEPTED,
        Subject("member", member.id),
        purpose=invitation.purpose,
    )
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
    # A plain UPDATE, not the versioned row: two sign-ins to one account at once must not
    # fail each other on the member's edit counter.
    db.session().execute(
        update(Member)
        .where(Member.id == member.id)
        .values(last_signed_in_at=moment)
        .execution_options(synchronize_session=False)
    )
    db.session().flush()
    from agencies.services import actor_for

    record(
        actor_for(member, request_id=request_id or None),
        LedgerAction.SIGNIN_SUCCEEDED,
        Subject("member", member.id),
        method=method,
    )
    return token


@dataclass
class ResolvedSession:
    row: MemberSession
    member: Member
    #: When the session last counted as active, after this request touched it.
    seen_at: datetime


def _provider_allows(row: MemberSession, member: Member) -> str | None:
    """Why an agency's own sign-in ends this session now, or None.

    At an agency with its own provider, only a live session from that provider counts:
    switching the provider off ends its people's sessions (and does not bring their old
    hub passwords back).
    """
    from hub.auth.identity import IdentityProvider

    found = (
        db.session()
        .execute(
            select(IdentityProvider.id, IdentityProvider.disabled_at).where(
                IdentityProvider.agency_id == member.agency_id
            )
        )
        .first()
    )
    if found is None:
        return None
    provider_id, disabled_at = found
    if disabled_at is not None:
        return "provider_disabled"
    if row.method != "oidc" or row.idp_id != provider_id:
        return "provider_disabled"
    return None


def resolve_session(
    token: str, *, idle_minutes: int, max_hours: int = 12
) -> ResolvedSession | str | None:
    """Find the live session for a token, ending it if it went idle or the member lost access.

    When this call ends the session it answers why (``idle``, ``expired``, ...); a token of no
    session, or of one that had already ended, is None.
    """
    row = db.session().get(MemberSession, _digest(token))
    if row is None or row.ended_at is not None:
        return None
    moment = now()
    # The agency too, in the same statement: every page asks whether it may still sign in.
    member = db.session().get(Member, row.member_id, options=[joinedload(Member.agency)])
    if row.created_at + timedelta(hours=max_hours) < moment:
        _end(row, "expired")
        return "expired"
    if row.last_seen_at + timedelta(minutes=idle_minutes) < moment:
        _end(row, "idle")
        return "idle"
    if member is None or not member.can_sign_in():
        _end(row, "disabled")
        return "disabled"
    reason = _provider_allows(row, member)
    if reason is not None:
        _end(row, reason)
        return reason
    seen_at = row.last_seen_at
    if moment - row.last_seen_at > timedelta(seconds=30):
        # Coarse, and in a transaction of its own after this one: the request's own
        # transaction then holds no write before it calls an identity provider.
        seen_at = _touch(row, moment)
    return ResolvedSession(row, member, seen_at)


def keep_session_alive(row: MemberSession) -> datetime:
    """Count this moment as activity: the person chose to stay signed in."""
    return _touch(row, now())


def _touch(row: MemberSession, moment: datetime) -> datetime:
    """Record ``moment`` as the session's last activity, in a transaction of its own."""
    session_id = row.id

    def touch(session: Session) -> None:
        session.execute(
            update(MemberSession)
            .where(MemberSession.id == session_id, MemberSession.ended_at.is_(None))
            .values(last_seen_at=moment)
        )

    db.in_own_transaction(touch)
    return moment


def _end(row: MemberSession, reason: str) -> None:
    # Written in a transaction of its own so the end sticks even when the request that
    # noticed it is refused and rolled back.
    session_id = row.id

    def write(session: Session) -> None:
        session.execute(
            update(MemberSession)
            .where(MemberSession.id == session_id, MemberSession.ended_at.is_(None))
            .values(ended_at=now(), end_reason=reason)
        )

    db.in_own_transaction(write)


def end_session(actor: Actor, token: str, reason: str = "signed_out") -> MemberSession | None:
    row = db.session().get(MemberSession, _digest(token))
    if row is None or row.ended_at is not None:
        return None
    row.ended_at = now()
    row.end_reason = reason
    db.session().flush()
    record(actor, LedgerAction.SIGNOUT_SUCCEEDED, Subject("member", row.member_id), reason=reason)
    return row


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
    record(
        actor, LedgerAction.SIGNIN_REAUTHENTICATED, Subject("member", row.member_id), method=method
    )


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
    check = check_password(member.email, password)
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


def logout_hint(session_id: str | None) -> EndedAtProvider | None:
    """For a session that just ended: its provider and ID token (read only)."""
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
    return EndedAtProvider(row.idp_id, row.id_token_hint)


def forget_logout_hint(session_id: str | None) -> None:
    """The ID token is handed out once and not kept."""
    if session_id:
        db.session().execute(
            update(MemberSession)
            .where(MemberSession.id == session_id)
            .values(id_token_hint=None)
            .execution_options(synchronize_session=False)
        )
