"""The shipped to-do templates (``todo/data/todo_templates.json``) and their rules.

Pure functions, no database: which shipped items an agency type starts with, whether an item
applies to a trigger and a case context, and which priority it gets for a risk band.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from agencies.models import AgencyType
from todo.codes import Priority, Trigger

DATA = Path(__file__).resolve().parent / "data" / "todo_templates.json"
DEFAULT_TRIGGERS = (Trigger.REFERRAL_ACCEPTED.value, Trigger.CASE_SHARED.value)
RISK_BANDS = ("standard", "medium", "high")
CONDITION_KEYS = frozenset({"unless_agency_types", "only_if", "unless", "agency_types"})
#: Offsets beyond this are surely a typing slip (three months of working days).
MAX_OFFSET = 65


class CatalogueError(ValueError):
    """The shipped template file breaks its own format."""


@dataclass(frozen=True)
class CaseContext:
    """What template conditions may know about a case: codes and flags, never case data.

    ``agency_types_involved`` holds the types of the *other* agencies involved in the case
    (referrer, recipients, invitees). ``flags`` answers the questions in the data file's
    ``flags`` table; a flag that is absent is unknown, and an unknown flag never skips an item.
    """

    agency_types_involved: frozenset[str] = frozenset()
    flags: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class ItemSpec:
    """One shipped or stored template item, as the rules see it."""

    key: str
    title: str
    due_in_working_days: int
    priority_rule: Mapping[str, str]
    triggers: tuple[str, ...] = DEFAULT_TRIGGERS
    conditions: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    to_queue: bool = False


@dataclass(frozen=True)
class ShippedTemplate:
    key: str
    name: str
    agency_types: tuple[str, ...]
    source: str
    items: tuple[ItemSpec, ...]


@dataclass(frozen=True)
class Catalogue:
    version: int
    flags: Mapping[str, str]
    templates: tuple[ShippedTemplate, ...]


def _check_priority_rule(rule: Any, where: str) -> dict[str, str]:
    if not isinstance(rule, dict) or "default" not in rule:
        raise CatalogueError(f"{where}: priority needs a 'default'")
    for band, value in rule.items():
        if band != "default" and band not in RISK_BANDS:
            raise CatalogueError(f"{where}: unknown risk band {band!r}")
        if value not in {p.value for p in Priority}:
            raise CatalogueError(f"{where}: unknown priority {value!r}")
    return dict(rule)


def _check_conditions(conditions: Any, flags: Mapping[str, str], where: str) -> dict[str, Any]:
    if not isinstance(conditions, dict):
        raise CatalogueError(f"{where}: conditions must be an object")
    unknown = set(conditions) - CONDITION_KEYS
    if unknown:
        raise CatalogueError(f"{where}: unknown conditions {sorted(unknown)}")
    types = {t.value for t in AgencyType}
    for key in ("unless_agency_types", "agency_types"):
        bad = set(conditions.get(key, [])) - types
        if bad:
            raise CatalogueError(f"{where}: unknown agency types {sorted(bad)}")
    for key in ("only_if", "unless"):
        bad = set(conditions.get(key, [])) - set(flags)
        if bad:
            raise CatalogueError(f"{where}: flags not described in the file: {sorted(bad)}")
    return dict(conditions)


def parse(document: Mapping[str, Any]) -> Catalogue:
    """Check and load a template document; raise CatalogueError naming the broken item."""
    if document.get("format") != 1:
        raise CatalogueError("unknown template file format")
    flags = dict(document.get("flags", {}))
    templates = []
    seen_keys: set[str] = set()
    all_types = {t.value for t in AgencyType}
    for raw in document["templates"]:
        where = f"template {raw.get('key')!r}"
        bad_types = set(raw["agency_types"]) - all_types
        if bad_types:
            raise CatalogueError(f"{where}: unknown agency types {sorted(bad_types)}")
        if not raw.get("source"):
            raise CatalogueError(f"{where}: every template cites its source")
        items = []
        for item in raw["items"]:
            item_where = f"{where} item {item.get('key')!r}"
            key = item["key"]
            if key in seen_keys:
                raise CatalogueError(f"{item_where}: duplicate key")
            seen_keys.add(key)
            title = item["title"].strip()
            if not title or len(title) > 200:
                raise CatalogueError(f"{item_where}: title must be 1 to 200 characters")
            due = item["due"]
            if not isinstance(due, int) or not 0 <= due <= MAX_OFFSET:
                raise CatalogueError(f"{item_where}: due must be 0 to {MAX_OFFSET} working days")
            triggers = tuple(item.get("triggers", DEFAULT_TRIGGERS))
            if not triggers or set(triggers) - {t.value for t in Trigger}:
                raise CatalogueError(f"{item_where}: unknown triggers {triggers}")
            if not item.get("source"):
                raise CatalogueError(f"{item_where}: every item cites its source")
            items.append(
                ItemSpec(
                    key=key,
                    title=title,
                    due_in_working_days=due,
                    priority_rule=_check_priority_rule(item["priority"], item_where),
                    triggers=triggers,
                    conditions=_check_conditions(item.get("conditions", {}), flags, item_where),
                    source=item["source"],
                    to_queue=bool(item.get("to_queue", False)),
                )
            )
        templates.append(
            ShippedTemplate(
                key=raw["key"],
                name=raw["name"],
                agency_types=tuple(raw["agency_types"]),
                source=raw["source"],
                items=tuple(items),
            )
        )
    return Catalogue(version=int(document["version"]), flags=flags, templates=tuple(templates))


@lru_cache(maxsize=1)
def shipped() -> Catalogue:
    """The catalogue shipped with the hub."""
    return parse(json.loads(DATA.read_text(encoding="utf-8")))


def starting_items(
    agency_type: str, catalogue: Catalogue | None = None
) -> tuple[list[ItemSpec], list[str]]:
    """The items an agency of this type starts with, and the templates they came from.

    Items narrowed to other agency types (``conditions.agency_types``) are left out here, so
    the agency's own template lists only what applies to it.
    """
    catalogue = catalogue or shipped()
    items: list[ItemSpec] = []
    used: list[str] = []
    for template in catalogue.templates:
        if agency_type not in template.agency_types:
            continue
        used.append(f"{template.key}@{catalogue.version}")
        for item in template.items:
            narrowed = item.conditions.get("agency_types")
            if narrowed and agency_type not in narrowed:
                continue
            conditions = {k: v for k, v in item.conditions.items() if k != "agency_types"}
            items.append(
                ItemSpec(
                    key=item.key,
                    title=item.title,
                    due_in_working_days=item.due_in_working_days,
                    priority_rule=item.priority_rule,
                    triggers=item.triggers,
                    conditions=conditions,
                    source=item.source,
                    to_queue=item.to_queue,
                )
            )
    return items, used


def applies(item: ItemSpec, trigger: str, context: CaseContext, agency_type: str) -> bool:
    """Whether an item makes a task for this trigger and case."""
    if trigger not in item.triggers:
        return False  # the item answers other occasions
    conditions = item.conditions
    narrowed = conditions.get("agency_types")
    if narrowed and agency_type not in narrowed:
        return False  # meant for another kind of agency in the same template
    others = set(conditions.get("unless_agency_types", []))
    if others & set(context.agency_types_involved):
        return False  # "only if no other agency does this": one that does is involved
    for flag in conditions.get("only_if", []):
        if context.flags.get(flag) is not True:
            return False  # needs something known to be so
    # Known to be so: the item is not needed (an unknown flag keeps it: err on safety).
    return not any(context.flags.get(flag) is True for flag in conditions.get("unless", []))


def priority_for(rule: Mapping[str, str], risk_band: str | None) -> Priority:
    """The priority an item gets for a risk band (its default when the band has no rule)."""
    if risk_band and risk_band in rule:
        return Priority(rule[risk_band])
    return Priority(rule.get("default", Priority.NORMAL))
