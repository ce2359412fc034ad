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
    return g.get("hub_actor")


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


def request_id() -> str:
    return str(g.get("request_id", "")) if has_request_context() else ""
