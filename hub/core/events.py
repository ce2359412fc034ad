"""Typed domain events: how a lower package's action causes work above it.

A package publishes an event (a frozen dataclass of ids and codes, and the acting actor)
inside the unit of work; the handlers subscribed for its type run at once, in the same
transaction, so the work they do commits or rolls back with the action. Nothing subscribes
at import time: ``hub.app.create_app`` builds the one ``Bus`` of an application and
subscribes every handler, so the wiring of the whole hub reads in one place, and
``lint-imports`` sees no dependency pointing up the layers.

Publishing an event that nothing handles is an error: a forgotten subscription would
silently drop work (to-do tasks that are never made). ``tests/core/test_events.py`` checks
that every event type has a handler in the app and that importing any module subscribes
nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from hub.core.access import Actor

E = TypeVar("E", bound="Event")


@dataclass(frozen=True)
class Event:
    """Base of every domain event: who acted. Subclasses add ids and codes only."""

    actor: Actor


class Unhandled(RuntimeError):
    """An event was published that no handler is subscribed to."""


class Bus:
    """The handlers of one application, by event type."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        if handler not in self._handlers[kind]:
            self._handlers[kind].append(handler)

    def handlers(self, kind: type[Event]) -> list[Callable[[Any], None]]:
        return list(self._handlers.get(kind, ()))

    @property
    def kinds(self) -> set[type[Event]]:
        return {kind for kind, found in self._handlers.items() if found}

    def publish(self, event: Event) -> None:
        found = self._handlers.get(type(event))
        if not found:
            raise Unhandled(f"nothing handles {type(event).__name__}")
        for handler in found:
            handler(event)


def publish(event: Event) -> None:
    """Publish inside the current unit of work, to its application's bus."""
    from hub.core import db

    bus = db.current_unit().database.bus
    if bus is None:
        raise Unhandled(f"no event bus: {type(event).__name__} published outside the app")
    bus.publish(event)
