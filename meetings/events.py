"""What happens at conferences that other packages act on (see hub.core.events)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.events import Event


@dataclass(frozen=True)
class CasesCirculated(Event):
    """Agencies received an agenda listing these agenda items (their templates run)."""

    meeting_id: int
    item_ids: tuple[int, ...]
    #: Only these agencies are new to the agenda; None: every invited agency.
    agency_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ActionAgreed(Event):
    """The meeting agreed an action: it becomes a task on the owner's to-do list."""

    action_id: int


@dataclass(frozen=True)
class MeetingClosed(Event):
    """The chair closed the meeting: the minutes are due within 3 working days."""

    meeting_id: int


@dataclass(frozen=True)
class MinutesDistributed(Event):
    """The minutes went out: the coordinator's "send the minutes" task is done."""

    meeting_id: int


@dataclass(frozen=True)
class MinutesAmended(Event):
    """Approved minutes were amended: whoever holds an earlier copy must replace it."""

    meeting_id: int
    revision: int
    #: The cases whose sections the amendment changed.
    case_ids: tuple[int, ...]
