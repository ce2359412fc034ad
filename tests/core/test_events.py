"""Domain events: every event type has a handler in the app, none is subscribed at import."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

from hub.core import db
from hub.core.access import Actor
from hub.core.events import Bus, Event, Unhandled, publish

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    "hub",
    "audit",
    "agencies",
    "consent",
    "cases",
    "meetings",
    "todo",
    "returns",
    "subject_access",
]


def _every_module() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package)
        found = importlib.import_module(package)
        for info in pkgutil.walk_packages(found.__path__, prefix=f"{package}."):
            if ".migrations." in info.name or info.name.endswith(".migrations"):
                continue
            names.append(info.name)
    return names


def _event_types() -> set[type[Event]]:
    for name in _every_module():
        importlib.import_module(name)
    seen: set[type[Event]] = set()
    todo = list(Event.__subclasses__())
    while todo:
        kind = todo.pop()
        if kind.__module__.startswith("tests"):
            continue
        seen.add(kind)
        todo.extend(kind.__subclasses__())
    return seen


def test_every_event_type_has_a_handler_in_the_app(app) -> None:
    bus: Bus = app.extensions["hub.events"]
    kinds = _event_types()
    assert kinds, "no event types found"
    missing = sorted(k.__name__ for k in kinds if not bus.handlers(k))
    assert missing == [], f"events nothing handles: {missing}"


def test_importing_every_module_subscribes_nothing() -> None:
    # Handlers are subscribed only by create_app: a fresh bus stays empty whatever is imported,
    # and no module keeps a bus of its own with handlers in it.
    for name in _every_module():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, Bus):
                assert not value.kinds, f"{name} subscribes at import time"


def test_an_event_nothing_handles_is_an_error(app) -> None:
    class Orphan(Event):
        pass

    with db.unit_of_work(), pytest.raises(Unhandled, match="Orphan"):
        publish(Orphan(Actor.system("test")))
