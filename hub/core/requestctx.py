"""The acting person of the current HTTP request, for views and the access decorators only.

Services never import this module: they take the actor as an argument.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import g, has_request_context

from hub.core.access import Actor, Permission
from hub.core.errors import HubError


class Unauthenticated(HubError):
    """No one is signed in (or the session ended); the shell sends them to sign in."""

    status = 401
    title = "Sign in required"


class AccessDenied(HubError):
    status = 403
    title = "Forbidden"


def current_actor() -> Actor | None:
    if not has_request_context():
        return None
    found: Actor | None = g.get("hub_actor")
    return found


def actor() -> Actor:
    """The signed-in actor, or Unauthenticated."""
    found = current_actor()
    if found is None:
        raise Unauthenticated("Sign in to continue.")
    return found


def set_actor(value: Actor | None) -> None:
    g.hub_actor = value


def enforce(permissions: Iterable[Permission]) -> Actor:
    found = actor()
    missing = [p for p in permissions if not found.can(p)]
    if missing:
        raise AccessDenied("You do not have access to this page.")
    return found


class InsufficientScope(AccessDenied):
    """A partner system's token is valid but lacks a scope the API route needs."""

    def __init__(self, scopes: Iterable[str]) -> None:
        self.scopes = tuple(sorted(scopes))
        super().__init__(
            "The access token does not carry the scope this needs: " + " ".join(self.scopes)
        )


def enforce_scopes(scopes: Iterable[str]) -> Actor:
    """Only a partner system (bearer token) holding every scope gets through."""
    found = current_actor()
    if found is None or found.kind != "service":
        raise Unauthenticated("Send an access token in the Authorization header.")
    wanted = set(scopes)
    if not wanted <= found.scopes:
        raise InsufficientScope(wanted)
    return found


def enforce_recent_sign_in(minutes: int | None = None) -> Actor:
    from flask import current_app

    from hub.core.access import ensure_recent_sign_in
    from hub.core.clock import now

    found = actor()
    settings = current_app.extensions["hub.settings"]
    limit = minutes if minutes is not None else settings.step_up_minutes
    ensure_recent_sign_in(found, limit, now())
    return found


def request_id() -> str:
    return str(g.get("request_id", "")) if has_request_context() else ""
