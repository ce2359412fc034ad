"""Two real hubs (`hub serve` on two ports) that trust each other: a transfer pushed between them.

Hub A's Northbridge coordinator sends a case to Southport MARAC on hub B and delivers it
from A's pages; A's server pushes the sealed package to B's API with a token B issued it;
B's Southport coordinator accepts it into a new case. A keeps B's signed receipt, both
ledgers hold the disclosure, and the old address is in neither B's database nor anything
B shows. ``hub transfer`` on the command line lists, writes and receives package files.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from audit.models import AuditEntry
from cases.models import Referral, ReferralStatus, Whereabouts
from hub import demo
from hub.app import create_app
from hub.core import db
from hub.core.migrate import upgrade
from tests.conftest import make_settings
from tests.support.processes import HUB, HubProcess, free_port, hub_env, wait_for
from tests.transfers.conftest import NB_COORDINATOR, OLD_ADDRESS, OLD_PHONE, SP_COORDINATOR
from tests.web.test_demo_cases import _seed
from transfers import peers
from transfers.models import Transfer, TransferStatus

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SOUTHPORT = "Southport MARAC"


@dataclass
class Hub:
    name: str
    base: str
    database: Path
    instance: Path
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(HUB), *args], env=self.env, capture_output=True, text=True, timeout=120
        )

    def session(self) -> Session:
        return Session(create_engine(f"sqlite:///{self.database}"))


def _seeded(folder: Path) -> tuple[Path, str]:
    """A demo database with the two areas, its accepted case given a distinctive address."""
    database = folder / "seed.sqlite3"
    upgrade(f"sqlite:///{database}")
    app = create_app(make_settings(f"sqlite:///{database}", folder / "seed-instance"))
    with app.app_context():
        settings = app.extensions["hub.settings"]
        _seed(settings)
        with db.unit_of_work():
            demo.seed_second_area_meeting(settings)
        with db.unit_of_work() as uow:
            case = uow.session.execute(
                select(Referral).where(Referral.status == ReferralStatus.ACCEPTED)
            ).scalar_one()
            place = uow.session.get(Whereabouts, case.victim_id)
            assert place is not None
            place.address, place.safe_phone = OLD_ADDRESS, OLD_PHONE
            reference = case.reference
    app.extensions["hub.db"].dispose()
    return database, reference


@pytest.fixture(scope="module")
def two_hubs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Hub, Hub, str]]:
    folder = tmp_path_factory.mktemp("two-hubs")
    seed, reference = _seeded(folder)
    ports = {"a": free_port(), "b": free_port()}
    keys = {name: peers._generate() for name in ports}
    hubs: dict[str, Hub] = {}
    for name, port in ports.items():
        other = "b" if name == "a" else "a"
        place = folder / name
        place.mkdir()
        database = place / "hub.sqlite3"
        shutil.copyfile(seed, database)
        (place / "keys.json").write_text(json.dumps(keys[name]))
        (place / "trust.json").write_text(
            json.dumps(
                {
                    "hubs": [
                        {
                            "id": f"http://127.0.0.1:{ports[other]}",
                            "name": f"Hub {other.upper()}",
                            "url": f"http://127.0.0.1:{ports[other]}",
                            "keys": {
                                "keys": [
                                    {k: v for k, v in key.items() if k != "d"}
                                    for key in keys[other]["keys"]
                                ]
                            },
                            "areas": [SOUTHPORT],
                        }
                    ]
                }
            )
        )
        base = f"http://127.0.0.1:{port}"
        env = hub_env(
            f"sqlite:///{database}",
            place / "instance",
            HUB_BASE_URL=base,
            HUB_NAME=f"Hub {name.upper()}",
            HUB_DEMO="1",
            HUB_TRANSFER_KEYS_FILE=str(place / "keys.json"),
            HUB_TRUSTED_HUBS_FILE=str(place / "trust.json"),
        )
        hubs[name] = Hub(name, base, database, place / "instance", env)
    servers = [
        HubProcess(
            f"hub-{name}",
            ["serve", "--port", str(port), "--workers", "1"],
            hubs[name].env,
            folder,
        )
        for name, port in ports.items()
    ]
    try:
        for hub in hubs.values():
            wait_for(lambda hub=hub: _up(hub.base), 60, f"hub {hub.name} serves")
        yield hubs["a"], hubs["b"], reference
    finally:
        for server in servers:
            server.stop()
            print(server.output[-3000:])


def _up(base: str) -> bool:
    try:
        return requests.get(base + "/transfers/hub-keys.json", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


class Browser:
    """A person on a hub's pages, through plain HTTP with the forms' CSRF tokens."""

    def __init__(self, base: str, email: str) -> None:
        self.base, self.http = base, requests.Session()
        signed = self.submit("/sign-in", {"email": email, "password": demo.DEMO_PASSWORD})
        assert signed.status_code == 302, signed.text[:400]

    def get(self, path: str) -> requests.Response:
        return self.http.get(self.base + path, timeout=30)

    def submit(
        self, path: str, data: dict[str, str] | None = None, form: str | None = None
    ) -> requests.Response:
        page = self.get(form or path)
        token = CSRF.search(page.text)
        assert token, page.text[:400]
        return self.http.post(
            self.base + path,
            data={"csrf_token": token.group(1), **(data or {})},
            allow_redirects=False,
            timeout=60,
        )


def _case_id(hub: Hub, reference: str) -> int:
    with hub.session() as session:
        return int(
            session.execute(select(Referral.id).where(Referral.reference == reference)).scalar_one()
        )


def _actions(hub: Hub) -> list[dict[str, Any]]:
    with hub.session() as session:
        return [
            json.loads(body)
            for body in session.execute(
                select(AuditEntry.body).where(AuditEntry.action.like("transfer:%"))
            ).scalars()
        ]


def test_a_case_pushed_from_one_hub_to_another_is_accepted_there(two_hubs) -> None:
    a, b, reference = two_hubs
    case_id = _case_id(a, reference)
    sender = Browser(a.base, NB_COORDINATOR)
    # The other hub's area is in the list of MARACs a case can go to.
    form = sender.get(f"/cases/{case_id}/transfer").text
    assert "Southport MARAC (Hub B)" in form
    started = sender.submit(
        f"/cases/{case_id}/transfer",
        {
            "to_area": f"hub:{b.base}|{SOUTHPORT}",
            "reason": "permanent_move",
            "heard_here": "no",
            "agenda_circulated": "no",
        },
    )
    assert started.status_code == 303, started.text[:600]
    transfer_path = started.headers["Location"].removeprefix(a.base)
    sent = sender.submit(transfer_path + "/send", form=transfer_path)
    assert sent.status_code == 303
    assert "Deliver to Hub B" in sender.get(transfer_path).text
    delivered = sender.submit(transfer_path + "/deliver", form=transfer_path)
    assert delivered.status_code == 303
    page = sender.get(transfer_path).text
    assert "delivered: the receipt is kept" in page, page[:3000]
    with a.session() as session:
        out = session.execute(select(Transfer).where(Transfer.referral_id == case_id)).scalar_one()
        assert out.status is TransferStatus.ACKNOWLEDGED and out.receipt
        old = session.get(Referral, case_id)
        assert old is not None and old.status is ReferralStatus.TRANSFERRED
    # B filed it for its Southport coordinator, who accepts it into a new case.
    with b.session() as session:
        incoming = session.execute(
            select(Transfer).where(Transfer.package_id == out.package_id)
        ).scalar_one()
        assert incoming.peer_hub == a.base and incoming.package_id == out.package_id
    receiver = Browser(b.base, SP_COORDINATOR)
    assert "from another MARAC waiting for you" in receiver.get("/").text
    shown = receiver.get(f"/transfers/{incoming.id}").text
    assert "Transfer in from Northbridge MARAC" in shown and "Hub A" in shown
    accepted = receiver.submit(f"/transfers/{incoming.id}/accept", form=f"/transfers/{incoming.id}")
    assert accepted.status_code == 303
    with b.session() as session:
        done = session.get(Transfer, incoming.id)
        assert done is not None and done.status is TransferStatus.LISTED
        new = session.get(Referral, done.new_referral_id)
        assert new is not None and new.status is ReferralStatus.ACCEPTED
        assert new.transferred_from == reference
        new_id = new.id
        # The new address goes only through B's own whereabouts page: nothing came with it.
        assert session.get(Whereabouts, new.victim_id) is None
        dump = " ".join(
            str(row) for row in session.execute(text("SELECT pack FROM transfers")).scalars()
        )
        assert OLD_ADDRESS not in dump and OLD_PHONE not in dump
    for path in ("/", "/transfers", f"/transfers/{incoming.id}", f"/cases/{new_id}"):
        body = receiver.get(path).text
        assert OLD_ADDRESS not in body and OLD_PHONE not in body, path
    # Both ledgers: each piece disclosed by A, and received by B, with its lawful basis.
    sent_pieces = {e["piece"] for e in _actions(a) if e["action"] == "transfer:pack_disclosed"}
    got = [e for e in _actions(b) if e["action"] == "transfer:pack_received"]
    assert sent_pieces and {e["piece"] for e in got} == sent_pieces
    assert all(e["basis"] and e["from_hub"] == a.base for e in got)
    assert any(e["action"] == "transfer:receipt_recorded" for e in _actions(a))
    # Pushed again (a replay, as if intercepted): B refuses it and records the refusal.
    replay = subprocess.run(
        [str(HUB), "transfer", "send", "--as", NB_COORDINATOR, "--transfer", str(out.id)],
        env=a.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode != 0
    assert "no package waiting" in replay.stderr
    token = _token_for(a, b)
    pushed = requests.post(
        b.base + peers.PUSH_PATH,
        json={"package": out.package},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert pushed.status_code == 409 and pushed.json()["code"] == "replayed"
    assert pushed.headers["Content-Type"].startswith("application/problem+json")
    assert any(e["action"] == "transfer:refused" and e["reason"] == "replayed" for e in _actions(b))
    # The API is in B's OpenAPI document.
    document = requests.get(b.base + "/api/openapi.json", timeout=30).json()
    assert {"/api/v1/transfers", "/api/v1/transfers/token"} <= set(document["paths"])


def _token_for(a: Hub, b: Hub) -> str:
    """A's token at B, got the way A's server gets it (a client assertion signed by A)."""
    keys = json.loads(Path(a.env["HUB_TRANSFER_KEYS_FILE"]).read_text())
    trust = peers.load_trust_list(a.env["HUB_TRUSTED_HUBS_FILE"])
    found = {k["use"]: peers.ECKey.import_key(k) for k in keys["keys"]}
    fed = peers.Federation(a.base, "Hub A", found["sig"], found["enc"], peers=trust)
    answer = requests.post(
        b.base + peers.TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": peers.ASSERTION_TYPE,
            "client_assertion": peers.client_assertion(fed, trust[b.base]),
        },
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_hub_transfer_on_the_command_line_writes_and_receives_a_package_file(
    two_hubs, tmp_path: Path
) -> None:
    a, b, _ = two_hubs
    with a.session() as session:
        other = (
            session.execute(
                select(Referral.reference).where(
                    Referral.status == ReferralStatus.HEARD, Referral.reference.like("NO-%")
                )
            )
            .scalars()
            .first()
        )
    assert other is not None
    package = tmp_path / "package.jwe"
    wrote = a.cli(
        "transfer", "send", "--as", NB_COORDINATOR, "--case", other, "--to", SOUTHPORT,
        "--hub", b.base, "--reason", "refuge", "--heard-here", "no",
        "--agenda-circulated", "yes", "--out", str(package),
    )  # fmt: skip
    assert wrote.returncode == 0, wrote.stderr
    assert "Sealed package written" in wrote.stdout
    assert OLD_ADDRESS not in package.read_text()
    listed = a.cli("transfer", "list", "--as", NB_COORDINATOR)
    assert "to   Southport MARAC on " + b.base in listed.stdout and "sent" in listed.stdout
    receipt = tmp_path / "receipt.jws"
    got = b.cli("transfer", "receive", str(package), "--receipt-out", str(receipt))
    assert got.returncode == 0, got.stderr
    assert "filed for Southport MARAC" in got.stdout and receipt.read_text().count(".") == 2
    again = b.cli("transfer", "receive", str(package))
    assert again.returncode != 0 and "refused (replayed)" in again.stderr
    # A file sealed for B means nothing to A, which cannot open it.
    wrong = a.cli("transfer", "receive", str(package))
    assert wrong.returncode != 0 and "refused (altered)" in wrong.stderr
    assert (
        "from Northbridge MARAC on " + a.base
        in b.cli("transfer", "list", "--as", SP_COORDINATOR).stdout
    )
