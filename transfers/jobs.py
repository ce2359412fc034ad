"""The transfer timers, run by the one scheduler process (`hub scheduler`).

Three timers, with configurable defaults (HUB_TRANSFER_SEND_WORKING_DAYS,
HUB_TRANSFER_ACKNOWLEDGE_WORKING_DAYS):

- **send** within 1 working day of starting the transfer: the pack has not reached the
  other MARAC (still a draft, or sealed for another hub but not delivered);
- **acknowledge** within 2 working days of its arrival: the receiving MARAC has neither
  acknowledged nor accepted it;
- **list** at the receiving MARAC's next meeting: its agenda cut-off has come and the
  transfer is not accepted onto it.

When one runs out, the coordinator who must act gets a task (once per transfer and timer,
keyed); when the step is done, the task is closed. The tasks name the transfer and case by
reference only. Safe to run twice.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from agencies.models import Agency, MaracArea, Member
from cases.models import Referral
from hub.core.access import Actor
from hub.core.clock import to_london, today_london
from hub.core.db import Database, session, unit_of_work
from hub.core.workdays import add_working_days
from meetings import services as meeting_services
from todo import services as todo
from transfers.models import Transfer, TransferStatus
from transfers.services import from_name, next_meeting, to_name

log = logging.getLogger(__name__)
SCHEDULER = Actor.system("scheduler")
#: Transfers whose timers are over.
DONE = (TransferStatus.HEARD, TransferStatus.CLOSED, TransferStatus.DECLINED)


def _coordinator_agency(area_id: int, member_id: int | None = None) -> tuple[int, int | None]:
    """The agency (and member) a coordinator's task goes to in this area."""
    member = session().get(Member, member_id) if member_id else None
    if member is None or member.disabled_at is not None:
        member = meeting_services.default_chair_and_coordinator(area_id)[1]
    if member is not None:
        return member.agency_id, member.id
    agency = (
        session()
        .execute(select(Agency.id).where(Agency.area_id == area_id).order_by(Agency.id).limit(1))
        .scalar_one()
    )
    return int(agency), None


def _raise_or_resolve(
    key: str, area_id: int, owner: int | None, running_out: bool, **task: Any
) -> int:
    agency_id, member_id = _coordinator_agency(area_id, owner)
    if not running_out:
        todo.resolve_system_rule_task(SCHEDULER, rule_key=key, agency_id=agency_id)
        return 0
    _task, created = todo.system_rule_task(
        SCHEDULER, rule_key=key, agency_id=agency_id, owner_member_id=member_id, **task
    )
    return int(created)


def raise_timer_tasks(today: date, *, send_days: int = 1, acknowledge_days: int = 2) -> int:
    """Make the tasks of the timers that ran out, close those whose step is done."""
    made = 0
    rows = session().execute(select(Transfer).where(Transfer.status.not_in(DONE)))
    for transfer in rows.scalars():
        made += _sending_timer(transfer, today, send_days)
        made += _receiving_timers(transfer, today, acknowledge_days)
    return made


def _sending_timer(transfer: Transfer, today: date, days: int) -> int:
    if transfer.from_area_id is None:
        return 0  # received from another hub: its sender keeps that timer
    due = add_working_days(to_london(transfer.created_at).date(), days)
    waiting = transfer.status is TransferStatus.DRAFT or (
        transfer.between_hubs and transfer.status is TransferStatus.SENT and not transfer.receipt
    )
    case = session().get(Referral, transfer.referral_id) if transfer.referral_id else None
    reference = case.reference if case else ""
    return _raise_or_resolve(
        f"transfer:{transfer.id}:send_timer",
        transfer.from_area_id,
        transfer.created_by_id,
        waiting and today > due,
        title=f"Send transfer {transfer.label} (case {reference}) to {to_name(transfer)}",
        due_on=due,
        referral_id=transfer.referral_id,
        details="The pack should reach the new MARAC within "
        f"{days} working day{'s' if days != 1 else ''} of learning of the move"
        + (": deliver it to the other hub." if transfer.between_hubs else "."),
    )


def _receiving_timers(transfer: Transfer, today: date, days: int) -> int:
    if transfer.to_area_id is None or transfer.sent_at is None:
        return 0  # sent to another hub: the timers are that hub's
    made = 0
    due = add_working_days(to_london(transfer.sent_at).date(), days)
    made += _raise_or_resolve(
        f"transfer:{transfer.id}:acknowledge_timer",
        transfer.to_area_id,
        None,
        transfer.status is TransferStatus.SENT and today > due,
        title=f"Acknowledge transfer {transfer.label} from {from_name(transfer)}",
        due_on=due,
        details=f"A transfer should be acknowledged within {days} working days of arriving.",
    )
    meeting = next_meeting(transfer.to_area_id)
    area = session().get(MaracArea, transfer.to_area_id)
    cutoff = meeting.held_on - timedelta(days=area.agenda_cutoff_days) if meeting and area else None
    waiting = transfer.status in (TransferStatus.SENT, TransferStatus.ACKNOWLEDGED)
    made += _raise_or_resolve(
        f"transfer:{transfer.id}:list_timer",
        transfer.to_area_id,
        None,
        waiting and cutoff is not None and today >= cutoff,
        title=f"List transfer {transfer.label} from {from_name(transfer)} at the next meeting",
        due_on=meeting.held_on if meeting else today,
        details="A transferred case is listed at the receiving MARAC's next meeting (or an "
        "emergency MARAC if the risk needs it): accept it onto the agenda.",
    )
    return made


def transfer_timers(*, today: date | None = None, database: Database | None = None) -> int:
    """The scheduler's job: the transfer timers' tasks."""
    from flask import current_app

    settings = current_app.extensions["hub.settings"]
    with unit_of_work(database):
        made = raise_timer_tasks(
            today or today_london(),
            send_days=settings.transfer_send_working_days,
            acknowledge_days=settings.transfer_acknowledge_working_days,
        )
    if made:
        log.info("made %d transfer timer tasks", made)
    return made
