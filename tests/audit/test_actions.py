"""The ledger's action catalogue: every action the code writes is a LedgerAction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from audit.actions import LABELS, LedgerAction
from audit.ledger import LedgerError, build_entry
from hub.core.access import Actor

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "hub",
    "audit",
    "agencies",
    "consent",
    "cases",
    "meetings",
    "todo",
    "returns",
    "subject_access",
    "transfers",
    "retention",
)
CATALOGUE = {action.value for action in LedgerAction}


def _sources() -> list[Path]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts and path != ROOT / "audit" / "actions.py":
                found.append(path)
    return found


def test_no_action_is_spelt_as_a_bare_string_in_the_code() -> None:
    # Spelt by hand, an action escapes the catalogue the auditor searches by: write
    # LedgerAction.X instead.
    offences = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in CATALOGUE:
                offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert offences == []


def test_every_catalogued_action_is_written_somewhere() -> None:
    # An action nothing writes would be offered to the auditor as a search that finds nothing.
    code = "\n".join(path.read_text() for path in _sources())
    unused = [a.name for a in LedgerAction if f"LedgerAction.{a.name}" not in code]
    assert unused == []


def test_every_action_has_a_label_for_the_auditor() -> None:
    assert set(LABELS) == set(LedgerAction)
    assert all(label.strip() for label in LABELS.values())


def test_the_ledger_refuses_an_action_outside_the_catalogue() -> None:
    actor = Actor.system("test")
    assert build_entry(actor, LedgerAction.CASE_VIEWED, None, {})
    with pytest.raises(LedgerError, match="catalogue"):
        build_entry(actor, "case:peeked", None, {})
