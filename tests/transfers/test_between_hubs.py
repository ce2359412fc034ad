"""Transfers between hubs, in one process: the receiving API's refusals, and the sending side.

The hub under test trusts one other hub ("Eastfield", whose keys the test holds). A package
Eastfield seals is pushed to the hub's API with a token got by a client assertion; a
replayed, altered, expired or untrusted one is refused as problem JSON and the refusal is
in the ledger. The other way, the hub seals a real pack for Eastfield, and the test plays
Eastfield's answer (its receipt) to check what the sending side records.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwe, jws
from joserfc.jwk import ECKey, KeySet
from sqlalchemy import select

from audit.models import AuditEntry
from cases.models import Referral, ReferralStatus
from hub.core import db
from tests.support.web import signed_in, submit, text
from tests.transfers.conftest import (
    NB_COORDINATOR,
    OLD_ADDRESS,
    OLD_PHONE,
    SP_COORDINATOR,
    _member,
)
from todo.models import Task
from transfers import peers
from transfers.models import Transfer, TransferStatus

HERE = "https://hub.northwest.example"
EASTFIELD = "https://hub.eastfield.example"
BASE = "http://127.0.0.1:5000"
SOUTHPORT = "Southport MARAC"


def _federation(hub_id: str, name: str, keys: dict[str, Any], **more: Any) -> peers.Federation:
    found = {k["use"]: ECKey.import_key(k) for k in keys["keys"]}
    return peers.Federation(hub_id, name, found["sig"], found["enc"], **more)


def _public(keys: dict[str, Any]) -> dict[str, Any]:
    return {"keys": [{k: v for k, v in key.items() if k != "d"} for key in keys["keys"]]}


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Any]:
    return {"here": peers._generate(), "eastfield": peers._generate(), "rogue": peers._generate()}


@pytest.fixture
def settings_overrides(tmp_path: Path, keys: dict[str, Any]) -> dict[str, Any]:
    own = tmp_path / "transfer-keys.json"
    own.write_text(json.dumps(keys["here"]))
    trust = tmp_path / "trusted-hubs.json"
    trust.write_text(
        json.dumps(
            {
                "hubs": [
                    {
                        "id": EASTFIELD,
                        "name": "Eastfield hub",
                        "url": EASTFIELD,
                        "keys": _public(keys["eastfield"]),
                        "areas": ["Eastfield MARAC"],
                    }
                ]
            }
        )
    )
    return {
        "hub_id": HERE,
        "hub_name": "North West hub",
        "transfer_keys_file": str(own),
        "trusted_hubs_file": str(trust),
    }


def _here_as_peer(keys: dict[str, Any]) -> peers.Peer:
    public = KeySet([ECKey.import_key(k) for k in _public(keys["here"])["keys"]])
    return peers.Peer(HERE, "North West hub", BASE, public, (SOUTHPORT,))


@pytest.fixture
def eastfield(keys: dict[str, Any]) -> peers.Federation:
    return _federation(
        EASTFIELD, "Eastfield hub", keys["eastfield"], peers={HERE: _here_as_peer(keys)}
    )


@pytest.fixture
def rogue(keys: dict[str, Any]) -> peers.Federation:
    """A hub nobody trusts, which knows the hub's published public keys."""
    return _federation(EASTFIELD, "Rogue", keys["rogue"], peers={HERE: _here_as_peer(keys)})


#: A case record as the other hub's pack carries it: Eastfield's case, its people renamed.
_RECORD: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def _eastfield_case(request: pytest.FixtureRequest) -> None:
    """Eastfield's case record, shaped by the same code that shapes every hub's."""
    if "two_areas" not in request.fixturenames:
        return
    case_id, _ = request.getfixturevalue("two_areas")
    from transfers import services

    with db.unit_of_work() as uow:
        old = uow.session.get(Referral, case_id)
        assert old is not None
        found = services.case_record(old, {"identity", "risk"})
    found["reference"] = "EF-2026-0041"
    found["victim"].update(given_name="Imogen", family_name="Farrell")
    _RECORD.clear()
    _RECORD.update(found)


def _content(to_area: str = SOUTHPORT) -> dict[str, Any]:
    return {
        "transfer": {
            "id": 41,
            "from_area": "Eastfield MARAC",
            "to_area": to_area,
            "reason": "refuge",
            "heard_here": True,
            "agenda_circulated": False,
        },
        "pack": {
            "reference": "EF-2026-0041",
            "from_area": "Eastfield MARAC",
            "pieces": [
                {
                    "key": "referral",
                    "title": "The latest referral: people",
                    "category": "identity",
                    "rows": [["Victim", "Imogen FARRELL"]],
                },
                {
                    "key": "risk",
                    "title": "The latest risk checklist and risk picture",
                    "category": "risk",
                    "rows": [["Score", "16 of 24"]],
                    "prompt": "The risk checklist should be revisited after a move.",
                },
            ],
            "categories": ["identity", "risk"],
            "missing": ["minutes"],
            "criteria": [],
        },
        "record": _RECORD,
        "agencies": [{"type": "police", "name": "Eastfield Police"}],
        "disclosures": [
            {"piece": "referral", "category": "identity", "basis": {"code": "consent"}},
            {"piece": "risk", "category": "risk", "basis": {"code": "consent"}},
        ],
    }


def _token(client: Any, fed: peers.Federation) -> Any:
    here = fed.peer(HERE)
    assert here is not None
    return client.post(
        "/api/v1/transfers/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": peers.ASSERTION_TYPE,
            "client_assertion": peers.client_assertion(fed, here),
        },
    )


def _push(client: Any, fed: peers.Federation, package: str, token: str | None = None) -> Any:
    if token is None:
        answer = _token(client, fed)
        assert answer.status_code == 200, text(answer)
        token = answer.get_json()["access_token"]
    return client.post(
        "/api/v1/transfers", json={"package": package}, headers={"Authorization": f"Bearer {token}"}
    )


def _refusals() -> list[dict[str, Any]]:
    with db.unit_of_work() as uow:
        rows = uow.session.execute(
            select(AuditEntry.body).where(AuditEntry.action == "transfer:refused")
        ).scalars()
        return [json.loads(body) for body in rows]


def _incoming() -> list[Transfer]:
    with db.unit_of_work() as uow:
        return list(uow.session.execute(select(Transfer).order_by(Transfer.id)).scalars())


def test_a_trusted_hubs_package_is_filed_receipted_and_accepted_into_a_new_case(
    app, two_areas, eastfield
) -> None:
    client = app.test_client()
    _, package = peers.seal(eastfield, eastfield.peers[HERE], _content())
    pushed = _push(client, eastfield, package)
    assert pushed.status_code == 201, text(pushed)
    # The receipt is signed by this hub, for this very package.
    receipt = pushed.get_json()["receipt"]
    (transfer,) = _incoming()
    claims = peers.verify_receipt(
        eastfield, eastfield.peers[HERE], receipt, transfer.package_id, peers.digest(package)
    )
    assert claims["transfer"] == pushed.get_json()["transfer"] == transfer.id
    assert transfer.between_hubs and transfer.status is TransferStatus.SENT
    assert transfer.peer_hub == EASTFIELD and transfer.peer_area == "Eastfield MARAC"
    # The receiving coordinator finds it and accepts it as inside one hub.
    receiver = signed_in(app.test_client(), _member(SP_COORDINATOR))
    page = text(receiver.get(f"/transfers/{transfer.id}"))
    assert "Transfer in from Eastfield MARAC" in page and "Eastfield hub" in page
    assert "should be revisited after a move" in page
    accepted = submit(
        receiver, f"/transfers/{transfer.id}/accept", form_url=f"/transfers/{transfer.id}"
    )
    assert accepted.status_code == 303
    assert "is now listed" in text(receiver.get(f"/transfers/{transfer.id}"))
    with db.unit_of_work() as uow:
        found = uow.session.get(Transfer, transfer.id)
        assert found is not None and found.status is TransferStatus.LISTED
        new = uow.session.get(Referral, found.new_referral_id)
        assert new is not None and new.status is ReferralStatus.ACCEPTED
        assert new.transferred_from == "EF-2026-0041"
        titles = set(uow.session.execute(select(Task.title)).scalars())
        assert (
            f"Speak to Eastfield Police about the case transferred in from Eastfield MARAC "
            f"(TR-{transfer.id})" in titles
        )
        assert "Ask Eastfield MARAC for what the transfer pack lacks" in titles
        actions = [
            json.loads(b)
            for b in uow.session.execute(
                select(AuditEntry.body).where(AuditEntry.action.like("transfer:%"))
            ).scalars()
        ]
    received = [e for e in actions if e["action"] == "transfer:pack_received"]
    assert {e["piece"] for e in received} == {"referral", "risk"}
    assert all(e["basis"] == {"code": "consent"} and e["from_hub"] == EASTFIELD for e in received)
    assert any(e["action"] == "transfer:hub_admitted" for e in actions)


def _keys_of(app: Any) -> dict[str, Any]:
    path = app.extensions["hub.settings"].transfer_keys_file
    return json.loads(Path(path).read_text())


def test_a_replayed_package_is_refused_and_recorded(app, two_areas, eastfield) -> None:
    client = app.test_client()
    package_id, package = peers.seal(eastfield, eastfield.peers[HERE], _content())
    assert _push(client, eastfield, package).status_code == 201
    again = _push(client, eastfield, package)
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    assert again.get_json()["code"] == "replayed"
    assert len(_incoming()) == 1
    (refusal,) = _refusals()
    assert refusal["reason"] == "replayed" and refusal["package"] == package_id
    assert refusal["subject"] == {"type": "hub", "id": EASTFIELD}


def test_an_altered_package_is_refused_and_recorded(app, two_areas, eastfield, keys) -> None:
    client = app.test_client()
    _, package = peers.seal(eastfield, eastfield.peers[HERE], _content())
    # Ciphertext tampered with in transit: it no longer opens.
    head, key, iv, body, tag = package.split(".")
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    broken = _push(client, eastfield, ".".join((head, key, iv, flipped, tag)))
    assert broken.status_code == 400 and broken.get_json()["code"] == "altered"
    # The signed content changed and encrypted again (anyone may encrypt to this hub): the
    # sender's signature no longer verifies.
    opened = jwe.decrypt_compact(
        package, _federation(HERE, "x", _keys_of(app)).decrypting, algorithms=list(_ALGS)
    )
    signed = opened.plaintext.decode()
    header, _, signature = signed.split(".")
    claims = json.loads(jws.extract_compact(signed.encode()).payload)
    claims["transfer"]["to_area"] = "Northbridge MARAC"
    import base64

    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = ".".join((header, forged_payload, signature))
    wrap = eastfield.peers[HERE].keys.keys[1]
    resealed = jwe.encrypt_compact(
        {"alg": peers.KEY_WRAP, "enc": peers.CONTENT, "kid": wrap.kid},
        forged.encode(),
        wrap,
        algorithms=list(_ALGS),
    )
    refused = _push(client, eastfield, resealed)
    assert refused.status_code == 400 and refused.get_json()["code"] == "altered"
    assert _incoming() == []
    assert [r["reason"] for r in _refusals()] == ["altered", "altered"]


_ALGS = (peers.KEY_WRAP, peers.CONTENT)


def test_an_expired_package_is_refused_and_recorded(app, two_areas, eastfield) -> None:
    client = app.test_client()
    long_ago = int(time.time()) - (eastfield.package_hours + 1) * 3600
    _, package = peers.seal(eastfield, eastfield.peers[HERE], _content(), moment=long_ago)
    refused = _push(client, eastfield, package)
    assert refused.status_code == 422 and refused.get_json()["code"] == "expired"
    assert _incoming() == []
    assert [r["reason"] for r in _refusals()] == ["expired"]


def test_an_untrusted_hub_gets_no_token_and_its_package_is_refused(
    app, two_areas, eastfield, rogue
) -> None:
    client = app.test_client()
    # It claims to be Eastfield, but signs with a key the trust list does not pin.
    token = _token(client, rogue)
    assert token.status_code == 401 and token.get_json()["code"] == "altered"
    # No token at all, or a made-up one: 401 with a challenge.
    _, package = peers.seal(rogue, rogue.peers[HERE], _content())
    bare = client.post("/api/v1/transfers", json={"package": package})
    assert bare.status_code == 401
    made_up = _push(client, rogue, package, token=peers._sign(rogue, {"iss": HERE}, "at+jwt"))
    assert made_up.status_code == 401 and "WWW-Authenticate" in made_up.headers
    # Pushed with Eastfield's real token, the rogue's package is still refused.
    refused = _push(client, eastfield, package)
    assert refused.status_code == 400 and refused.get_json()["code"] == "altered"
    # A hub not on the list at all.
    stranger = peers.Federation(
        "https://hub.unknown.example",
        "Unknown",
        rogue.signing,
        rogue.decrypting,
        peers={HERE: rogue.peers[HERE]},
    )
    _, unknown = peers.seal(stranger, stranger.peers[HERE], _content())
    untrusted = _push(client, eastfield, unknown)
    assert untrusted.status_code == 403 and untrusted.get_json()["code"] == "untrusted"
    stranger_token = _token(client, stranger)
    assert stranger_token.status_code == 401 and stranger_token.get_json()["code"] == "untrusted"
    assert _incoming() == []
    refusals = _refusals()
    assert {r["reason"] for r in refusals} == {"altered", "untrusted"}
    # What an untrusted caller claims is its text, not the hub's: never in the ledger.
    assert "hub.unknown.example" not in json.dumps(refusals)
    assert {r["subject"]["id"] for r in refusals if r["reason"] == "untrusted"} == {"unknown"}
    assert all(r["claimed"] for r in refusals if r["reason"] == "untrusted")


def test_a_package_for_an_area_this_hub_does_not_have_is_refused(app, two_areas, eastfield) -> None:
    _, package = peers.seal(eastfield, eastfield.peers[HERE], _content("Nowhere MARAC"))
    refused = _push(app.test_client(), eastfield, package)
    assert refused.status_code == 422 and refused.get_json()["code"] == "unknown_area"
    assert _incoming() == []


def test_the_hub_publishes_its_public_keys_and_never_a_private_one(app, keys) -> None:
    published = app.test_client().get("/transfers/hub-keys.json").get_json()
    assert published["hub"] == HERE
    assert {k["use"] for k in published["keys"]} == {"sig", "enc"}
    assert all("d" not in k for k in published["keys"])
    assert published["keys"] == _public(keys["here"])["keys"]


class _PlaysEastfield:
    """Eastfield's end of the push: opens the real package and answers a signed receipt."""

    def __init__(self, fed: peers.Federation, *, forge: bool = False) -> None:
        self.fed, self.forge, self.opened = fed, forge, []

    def post(self, url: str, *, data: Any = None, json: Any = None, **_: Any) -> Any:
        if url.endswith(peers.TOKEN_PATH):
            return _Answer(200, {"access_token": "t"})
        claims = peers.open_package(self.fed, json["package"])
        self.opened.append(claims)
        digest = "0" * 64 if self.forge else peers.digest(json["package"])
        receipt = peers.sign_receipt(self.fed, claims["iss"], claims["jti"], digest, transfer=7)
        return _Answer(201, {"receipt": receipt, "transfer": 7})


class _Answer:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_code, self._body, self.reason = status, body, ""

    def json(self) -> dict[str, Any]:
        return self._body


def _send_to_eastfield(app: Any, case_id: int) -> tuple[Any, int]:
    sender = signed_in(app.test_client(), _member(NB_COORDINATOR))
    started = submit(
        sender,
        f"/cases/{case_id}/transfer",
        {
            "to_area": f"hub:{EASTFIELD}|Eastfield MARAC",
            "reason": "refuge",
            "heard_here": "no",
            "agenda_circulated": "no",
        },
    )
    assert started.status_code == 303, text(started)
    (transfer,) = _incoming()
    sent = submit(sender, f"/transfers/{transfer.id}/send", form_url=f"/transfers/{transfer.id}")
    assert sent.status_code == 303
    return sender, transfer.id


def test_sending_to_another_hub_seals_the_pack_and_keeps_the_receipt(
    app, two_areas, eastfield
) -> None:
    from transfers import between

    case_id, reference = two_areas
    sender, transfer_id = _send_to_eastfield(app, case_id)
    page = text(sender.get(f"/transfers/{transfer_id}"))
    assert "Deliver to Eastfield hub" in page
    with db.unit_of_work() as uow:
        sealed = uow.session.get(Transfer, transfer_id)
        assert sealed is not None and sealed.status is TransferStatus.SENT
        # What is stored is sealed: nothing of the case can be read from it.
        assert "Zainab" not in sealed.package and sealed.package.count(".") == 4
        who = _member_actor(NB_COORDINATOR)
    played = _PlaysEastfield(eastfield)
    with db.unit_of_work():
        done = between.deliver_transfer(who, transfer_id, app.federation(), http=played)
        assert done.problem == ""
    (claims,) = played.opened
    assert claims["iss"] == HERE and claims["aud"] == EASTFIELD
    assert claims["record"]["victim"]["given_name"] == "Zainab"
    assert claims["pack"]["reference"] == reference
    carried = json.dumps(claims)
    assert OLD_ADDRESS not in carried and OLD_PHONE not in carried
    assert "whereabouts" not in claims["pack"]["categories"]
    with db.unit_of_work() as uow:
        kept = uow.session.get(Transfer, transfer_id)
        assert kept is not None and kept.receipt and kept.receipt_at is not None
        assert kept.status is TransferStatus.ACKNOWLEDGED
        old = uow.session.get(Referral, case_id)
        assert old is not None and old.status is ReferralStatus.TRANSFERRED
        actions = set(uow.session.execute(select(AuditEntry.action)).scalars())
    assert {"transfer:package_sealed", "transfer:receipt_recorded"} <= actions
    # Delivered once: there is nothing left to deliver.
    assert "Deliver to Eastfield hub" not in text(sender.get(f"/transfers/{transfer_id}"))


def test_a_receipt_for_another_package_is_not_kept(app, two_areas, eastfield) -> None:
    from transfers import between

    case_id, _ = two_areas
    _, transfer_id = _send_to_eastfield(app, case_id)
    with db.unit_of_work():
        done = between.deliver_transfer(
            _member_actor(NB_COORDINATOR),
            transfer_id,
            app.federation(),
            http=_PlaysEastfield(eastfield, forge=True),
        )
        assert "does not verify" in done.problem
    with db.unit_of_work() as uow:
        kept = uow.session.get(Transfer, transfer_id)
        assert kept is not None and kept.receipt == "" and kept.status is TransferStatus.SENT
        failed = uow.session.execute(
            select(AuditEntry.body).where(AuditEntry.action == "transfer:delivery_failed")
        ).scalar_one()
        assert json.loads(failed)["reason"] == "receipt_altered"


def _member_actor(email: str) -> Any:
    from agencies import services as agencies

    with db.unit_of_work():
        member = agencies.find_member_by_email(email)
        assert member is not None
        return agencies.actor_for(member)


def test_a_production_hub_without_transfer_keys_trusts_no_hub_and_publishes_nothing(
    tmp_path: Path,
) -> None:
    from dataclasses import replace

    from tests.conftest import make_settings

    settings = replace(
        make_settings("sqlite://", tmp_path), env="production", hub_id=HERE, trusted_hubs_file=""
    )
    fed = peers.federation_from(settings)
    assert not fed.enabled and fed.peers == {}
    assert not (tmp_path / "transfer-keys.json").exists()
    with pytest.raises(peers.TrustError):
        peers.load_keys(
            str(tmp_path / "missing.json"), instance_path=str(tmp_path), production=True
        )
