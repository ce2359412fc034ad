"""Local credentials and server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.core.clock import now
from hub.core.db import Base


class LocalCredential(Base):
    """A password and second factor for a member who signs in without an agency provider."""

    __tablename__ = "local_credentials"

    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True
    )
    #: argon2id hash (salt and parameters inside); never the password.
    password_hash: Mapped[str] = mapped_column(String(200))
    #: Base32 TOTP secret; null until the member enrols.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed_at: Mapped[datetime | None]
    #: A secret being enrolled: kept here, never in the browser's cookie, until a code from
    #: the authenticator proves it holds it.
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending_at: Mapped[datetime | None]
    #: The last accepted TOTP time step, so a code is never accepted twice.
    totp_last_step: Mapped[int | None]
    failed_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    #: Demo accounts may skip the second factor, and only while the hub runs in demo mode.
    is_demo: Mapped[bool] = mapped_column(default=False)
    password_changed_at: Mapped[datetime] = mapped_column(default=now)

    @property
    def has_totp(self) -> bool:
        return self.totp_secret is not None and self.totp_confirmed_at is not None


class MemberSession(Base):
    """A signed-in session. The browser holds only a random token; its hash is the key."""

    __tablename__ = "member_sessions"

    #: SHA-256 of the session token (hex); a stolen database does not yield live cookies.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    #: "local" or "oidc".
    method: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(default=now)
    #: When the person last proved who they are (for step-up on sensitive actions).
    authenticated_at: Mapped[datetime] = mapped_column(default=now)
    last_seen_at: Mapped[datetime] = mapped_column(default=now)
    ended_at: Mapped[datetime | None]
    #: signed_out, idle, expired (the absolute lifetime), disabled, provider_disabled,
    #: credential_reset
    end_reason: Mapped[str | None] = mapped_column(String(20))
    #: The identity provider that signed the person in, for single sign-out.
    idp_id: Mapped[int | None]
    #: The provider's ID token, kept only to send as a logout hint.
    id_token_hint: Mapped[str | None] = mapped_column(String(4000))


class Invitation(Base):
    """A one-time link for a local member to choose a password and set up a second factor.

    For a new member, or (``purpose`` "reset") for an existing one whose reset their
    agency's MARAC representative approved: that link goes to the member's own address.
    """

    __tablename__ = "invitations"

    #: SHA-256 of the token in the link (hex).
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=now)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    #: "new" (a first password) or "reset" (replaces the password and the authenticator).
    purpose: Mapped[str] = mapped_column(String(10), default="new")
    reset_id: Mapped[int | None] = mapped_column(
        ForeignKey("credential_resets.id", ondelete="CASCADE")
    )


class CredentialReset(Base):
    """A request to reset an existing member's password and authenticator.

    Whoever asks (the hub administrator) never gets the link: the member's agency's MARAC
    representative approves, and the link goes to the member's own email address. The
    member is told when it is asked for and when it is used.
    """

    __tablename__ = "credential_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(default=now)
    #: pending, approved, refused, used
    status: Mapped[str] = mapped_column(String(10), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]


class OidcRequest(Base):
    """An authorization request sent to an agency's provider and not yet answered.

    Kept on the server, so each answer is accepted once: a replayed callback finds nothing.
    """

    __tablename__ = "oidc_requests"

    #: SHA-256 of the `state` sent to the provider (hex); the browser's session holds it too.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    idp_id: Mapped[int] = mapped_column(ForeignKey("identity_providers.id", ondelete="CASCADE"))
    #: "sign_in", or "step_up" for a signed-in member confirming it is still them.
    purpose: Mapped[str] = mapped_column(String(10))
    #: The member who must come back, for a step-up.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(64))
    #: The PKCE code verifier (RFC 7636), sent only to the provider's token endpoint.
    code_verifier: Mapped[str] = mapped_column(String(128))
    #: A same-site path to return to afterwards.
    return_to: Mapped[str] = mapped_column(String(500), default="/")
    #: For a step-up: the provider must have authenticated the person this recently.
    max_age: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=now)
