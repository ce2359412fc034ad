"""A transferred-in case destroyed under retention takes the pack it came with along."""

from __future__ import annotations

import json

from hub.core import db
from retention.destroy import destroy_cases
from tests.support.web import signed_in, submit
from tests.transfers.conftest import (
    NB_COORDINATOR,
    SP_COORDINATOR,
    _member,
    transfer_to_southport,
)
from transfers.models import Transfer


def test_destroying_the_new_case_erases_the_pack_it_came_with(app, two_areas) -> None:
    case_id, _ = two_areas
    sender = signed_in(app.test_client(), _member(NB_COORDINATOR))
    receiver = signed_in(app.test_client(), _member(SP_COORDINATOR))
    transfer_id = transfer_to_southport(sender, case_id)
    submit(sender, f"/transfers/{transfer_id}/send", form_url=f"/transfers/{transfer_id}")
    submit(receiver, f"/transfers/{transfer_id}/accept", form_url=f"/transfers/{transfer_id}")
    with db.unit_of_work() as uow:
        transfer = uow.session.get(Transfer, transfer_id)
        assert transfer is not None and transfer.new_referral_id is not None
        new_id = transfer.new_referral_id
        assert "Zainab" in json.dumps(transfer.pack)
    with db.unit_of_work() as uow:
        destroy_cases(uow.session, [new_id])
    with db.unit_of_work() as uow:
        transfer = uow.session.get(Transfer, transfer_id)
        assert transfer is not None  # the old area's record of sending it stays
        assert transfer.new_referral_id is None and transfer.pack == {}
