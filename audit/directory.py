"""What the auditor's pages ask of the cases they audit, without importing them.

The ledger names cases by their internal identifier, and never holds free text; an auditor
knows a case by its reference (``NO-2026-0001``) and must read the reason someone gave for
revealing a victim's whereabouts. The cases package sits above the ledger, so the auditor's
pages take a :class:`CaseDirectory`, handed to them by the application factory
(``audit.views.init_app``): the dependency is one typed argument at the composition root."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class RevealReason:
    """Why a member revealed a victim's whereabouts, as they wrote it."""

    reason: str
    revealed_at: datetime


@dataclass(frozen=True)
class Erased:
    """That a case was erased under a retention policy: all the hub still holds of it."""

    reference: str
    policy_version: int
    erased_at: datetime


class CaseDirectory(Protocol):
    def case_id(self, reference: str, area_id: int) -> int | None:
        """The internal identifier of the area's case with this reference, if there is one."""
        ...

    def references(self, case_ids: Iterable[int], area_id: int) -> dict[int, str]:
        """The reference of each of the area's cases among these identifiers."""
        ...

    def reveal_reason(self, reveal_id: int, area_id: int) -> RevealReason | None:
        """The reason given for one reveal of a case of the area, if it is still held."""
        ...

    def erasures(self, case_ids: Iterable[int], area_id: int) -> dict[int, Erased]:
        """Which of the area's cases among these were erased, under which policy, when."""
        ...


class NoCases:
    """The directory of a ledger without cases (the standalone tools, some tests)."""

    def case_id(self, reference: str, area_id: int) -> int | None:
        return None

    def references(self, case_ids: Iterable[int], area_id: int) -> dict[int, str]:
        return {}

    def reveal_reason(self, reveal_id: int, area_id: int) -> RevealReason | None:
        return None

    def erasures(self, case_ids: Iterable[int], area_id: int) -> dict[int, Erased]:
        return {}
