"""How a view declares its access: ``@require``, ``@public``, ``@require_scope`` and
``@require_recent_sign_in``, and ``declared_access`` for the test that every route has one.

Above ``requestctx`` (which finds the request's actor) and ``access`` (actors and
permissions), so neither of those needs to know about views.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from hub.core import requestctx
from hub.core.access import Permission

P = ParamSpec("P")
R = TypeVar("R")


ACCESS_ATTRIBUTE = "__hub_access__"


def require(*permissions: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare that a view needs a signed-in actor holding every one of these permissions."""
    if not permissions:
        raise ValueError("require() needs at least one permission")

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        if hasattr(view, ACCESS_ATTRIBUTE):
            raise TypeError(f"{view.__name__} declares its access twice")

        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            requestctx.enforce(permissions)
            return view(*args, **kwargs)

        setattr(guarded, ACCESS_ATTRIBUTE, ("require", frozenset(permissions)))
        return guarded

    return decorate


def public(view: Callable[P, R]) -> Callable[P, R]:
    """Declare that a view is open to anyone, signed in or not."""
    if hasattr(view, ACCESS_ATTRIBUTE):
        raise TypeError(f"{view.__name__} declares its access twice")
    setattr(view, ACCESS_ATTRIBUTE, ("public", frozenset()))
    return view


def require_scope(*scopes: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare that an API view needs a partner system's bearer token with every one of these
    scopes; with none named, any valid token of a registered API client will do."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        if hasattr(view, ACCESS_ATTRIBUTE):
            raise TypeError(f"{view.__name__} declares its access twice")

        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            requestctx.enforce_scopes(scopes)
            return view(*args, **kwargs)

        setattr(guarded, ACCESS_ATTRIBUTE, ("scope", frozenset(scopes)))
        return guarded

    return decorate


def require_recent_sign_in(
    minutes: int | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Guard a sensitive action: the person must have signed in within the last N minutes.

    N defaults to HUB_STEP_UP_MINUTES. Put it below the route's ``@require(...)``. When the
    sign-in is older, the request raises StepUpRequired and the sign-in pages take over:
    the agency's provider with ``prompt=login`` and ``max_age``, or password and security
    code for local accounts, then back to the page.
    """

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            requestctx.enforce_recent_sign_in(minutes)
            return view(*args, **kwargs)

        return guarded

    return decorate


def declared_access(view: Callable[..., Any]) -> tuple[str, frozenset[Permission]] | None:
    """What a view declared, or None when it declared nothing."""
    seen: Any = view
    while seen is not None:
        declared = getattr(seen, ACCESS_ATTRIBUTE, None)
        if declared is not None:
            return declared  # type: ignore[no-any-return]
        seen = getattr(seen, "__wrapped__", None)
    return None
