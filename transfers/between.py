"""Transfers between hubs: push a sealed package to the other hub, receive one, keep receipts.

The sending coordinator sends the pack as inside one hub (``services.send_transfer``), which
also seals it for the other hub; ``deliver_transfer`` then pushes it, with no transaction
open while it waits on the other hub, and records the signed receipt it gets back. The
receiving hub (``receive_package``, from its API or from a package file on the command line)
opens and verifies the package against its trust list and files it as an incoming transfer
for the receiving area's coordinator, who accepts it into a new case exactly as inside one
hub. A replayed, altered, expired or untrusted package is refused and the refusal recorded.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from sqlalchemy import select

from agencies.models import MaracArea
from audit.actions import LedgerAction
from audit.ledger import Subject, record, record_refusal
from cases import lifecycle
from cases.lifecycle import Decision
from cases.models import Referral
from hub.core import db
from hub.core.access import Actor
from hub.core.clock import now
from hub.core.db import session
from hub.core.errors import HubError, NotFound, ValidationFailed
from transfers import peers
from transfers.models import Transfer, TransferReason, TransferStatus
from transfers.services import NO_SUCH_TRANSFER, get_transfer, sending_idva_task

#: A package identifier as hubs make them (a UUID's hex).
PACKAGE_ID = re.compile(r"[0-9a-f]{32}")
#: What the ledger takes from another hub's package: codes, never its text.
CODE = re.compile(r"[A-Za-z0-9_:().\-]{1,60}")
#: Seconds to wait for the other hub.
TIMEOUT_SECONDS = 20
#: What each refusal answers, as HTTP status and title.
REFUSALS = {
    "untrusted": (403, "The sending hub is not trusted"),
    "altered": (400, "The package was altered"),
    "not_for_us": (400, "The package is for another hub"),
    "expired": (422, "The package has expired"),
    "replayed": (409, "The package was received before"),
    "malformed": (422, "The package cannot be read"),
    "unknown_area": (422, "No such MARAC on this hub"),
}


class TransferRefused(HubError):
    """A package this hub will not take; the refusal is already recorded."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.status, self.title = REFUSALS.get(code, (400, "The package is refused"))


def _code(value: Any) -> str:
    text = str(value or "")
    return text if CODE.fullmatch(text) else "other"


def hub_actor(hub_id: str, name: str = "") -> Actor:
    """The other hub, acting through its access token: it may push transfers, nothing else."""
    return Actor(
        kind="service",
        member_id=None,
        agency_id=None,
        area_id=None,
        roles=frozenset(),
        name=name or hub_id,
        client_id=f"hub:{hub_id}"[:200],
        scopes=frozenset({peers.PUSH_SCOPE}),
    )


# --- receiving ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    transfer: Transfer
    receipt: str


def record_refused(
    fed: peers.Federation, actor: Actor | None, refused: peers.PackageRefused, **more: Any
) -> TransferRefused:
    """Record a refusal in its own transaction (the request's rolls back); answer it.

    What a refused package or assertion claims is the sender's text, not the hub's: the
    ledger names the hub only when it is on the trust list, else "unknown" with a short
    digest of the claim (to tell repeated attempts apart), and the package identifier only
    when it has this hub's shape. Identifiers and codes only, as every entry.
    """
    trusted = fed.peer(refused.issuer) is not None
    hub = refused.issuer if trusted else "unknown"
    claimed = None
    if refused.issuer and not trusted:
        claimed = hashlib.sha256(refused.issuer.encode()).hexdigest()[:16]
    package = refused.package_id if PACKAGE_ID.fullmatch(refused.package_id) else None
    record_refusal(
        actor or hub_actor(hub),
        LedgerAction.TRANSFER_REFUSED,
        Subject("hub", hub[:200]),
        reason=refused.code,
        package=package,
        claimed=claimed,
        **more,
    )
    return TransferRefused(refused.code, refused.detail)


def refuse_untrusted(fed: peers.Federation, actor: Actor) -> TransferRefused:
    """A token that is not a trusted hub's pushed a package: refused unopened, recorded."""
    return record_refused(
        fed,
        actor,
        peers.PackageRefused(
            "untrusted",
            "Only a hub on this hub's trust list may push transfers.",
            issuer=(actor.client_id or "unknown"),
        ),
    )


def receive_package(
    actor: Actor, fed: peers.Federation, package: str, *, sender: peers.Peer | None = None
) -> Received:
    """Open, verify and file a package; answer the signed receipt.

    ``sender`` is the hub whose token pushed it (None for a package file brought to the
    command line): a package sealed by another hub than its pusher is refused.
    """
    try:
        claims = peers.open_package(fed, package)
        issuer, package_id = claims["iss"], claims["jti"]
        try:
            if sender is not None and issuer != sender.id:
                raise peers.PackageRefused(
                    "untrusted", "The package was sealed by another hub than the one sending it."
                )
            if (
                session()
                .execute(select(Transfer.id).where(Transfer.package_id == package_id))
                .first()
            ):
                raise peers.PackageRefused("replayed", "This package has been received before.")
            about, pack = claims.get("transfer"), claims.get("pack")
            if not isinstance(about, dict) or not isinstance(pack, dict):
                raise peers.PackageRefused("malformed", "The package carries no transfer.")
            area = (
                session()
                .execute(select(MaracArea).where(MaracArea.name == str(about.get("to_area", ""))))
                .scalar_one_or_none()
            )
            if area is None:
                raise peers.PackageRefused("unknown_area", "No MARAC of that name is on this hub.")
            reason = TransferReason(str(about.get("reason")))
        except peers.PackageRefused as refused:
            refused.issuer, refused.package_id = issuer, package_id
            raise
        except (ValueError, KeyError, TypeError):
            raise peers.PackageRefused(
                "malformed", "The package cannot be read.", issuer=issuer, package_id=package_id
            ) from None
    except peers.PackageRefused as refused:
        raise record_refused(fed, actor, refused) from None
    peer = fed.peer(issuer)
    assert peer is not None  # open_package verified it against the trust list
    transfer = Transfer(
        referral_id=None,
        from_area_id=None,
        to_area_id=area.id,
        kind="between_hubs",
        peer_hub=issuer,
        peer_area=str(about.get("from_area", ""))[:120],
        reason=reason,
        heard_here=bool(about.get("heard_here")),
        agenda_circulated=bool(about.get("agenda_circulated")),
        status=TransferStatus.SENT,
        pack={
            **pack,
            "from_hub": peer.name,
            "record": claims.get("record") or {},
            "agencies": claims.get("agencies") or [],
        },
        sent_at=datetime.fromtimestamp(claims["iat"], UTC),
        package_id=package_id,
    )
    session().add(transfer)
    session().flush()
    record(
        actor,
        LedgerAction.TRANSFER_RECEIVED,
        Subject("transfer", transfer.id),
        area=area.id,
        from_hub=issuer,
        package=package_id,
    )
    for piece in claims.get("disclosures") or []:
        record(
            actor,
            LedgerAction.TRANSFER_PACK_RECEIVED,
            Subject("transfer", transfer.id),
            area=area.id,
            from_hub=issuer,
            piece=_code(piece.get("piece")),
            category=_code(piece.get("category")),
            basis={
                str(k): _code(v) if isinstance(v, str) else v
                for k, v in (piece.get("basis") or {}).items()
                if CODE.fullmatch(str(k)) and isinstance(v, str | int) and not isinstance(v, bool)
            },
        )
    receipt = peers.sign_receipt(
        fed,
        issuer,
        package_id,
        peers.digest(package.strip()),
        transfer=transfer.id,
        received_at=now().strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    transfer.receipt = receipt
    transfer.receipt_at = now()
    return Received(transfer, receipt)


# --- sending ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    transfer: Transfer
    problem: str  # empty when the receipt is recorded


def _sending(actor: Actor, transfer_id: int) -> Transfer:
    transfer = get_transfer(actor, transfer_id)
    if not transfer.between_hubs or actor.area_id != transfer.from_area_id:
        raise NotFound(NO_SUCH_TRANSFER)
    if transfer.status is not TransferStatus.SENT or transfer.receipt or not transfer.package:
        raise ValidationFailed("This transfer has no package waiting to be delivered.")
    return transfer


def _push(fed: peers.Federation, peer: peers.Peer, package: str, http: Any) -> Any:
    token = http.post(
        peer.url + peers.TOKEN_PATH,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": peers.ASSERTION_TYPE,
            "client_assertion": peers.client_assertion(fed, peer),
            "scope": peers.PUSH_SCOPE,
        },
        timeout=TIMEOUT_SECONDS,
    )
    if token.status_code != 200:
        return token
    access = token.json().get("access_token", "")
    return http.post(
        peer.url + peers.PUSH_PATH,
        json={"package": package},
        headers={"Authorization": f"Bearer {access}"},
        timeout=TIMEOUT_SECONDS,
    )


def deliver_transfer(
    actor: Actor, transfer_id: int, fed: peers.Federation, http: Any = requests
) -> Delivery:
    """Push the sealed package to the other hub and record its signed receipt.

    Nothing is written before the other hub answers (the transaction is ended while it
    waits); then the receipt, or why there is none, is recorded.
    """
    transfer = _sending(actor, transfer_id)
    peer = fed.peer(transfer.peer_hub)
    if peer is None:
        raise ValidationFailed("The receiving hub is no longer on this hub's trust list.")
    package, package_id = transfer.package, transfer.package_id or ""
    db.before_outbound_call()
    problem = ""
    claims: dict[str, Any] = {}
    try:
        answer = _push(fed, peer, package, http)
    except requests.RequestException:
        problem, code = f"{peer.name} cannot be reached now. Try again later.", "unreachable"
    else:
        body: dict[str, Any] = {}
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 201:
            code = str(body.get("code") or answer.status_code)[:40]
            problem = f"{peer.name} refused the package: {body.get('detail') or answer.reason}"
        else:
            try:
                claims = peers.verify_receipt(
                    fed, peer, str(body.get("receipt", "")), package_id, peers.digest(package)
                )
            except peers.PackageRefused as refused:
                code = f"receipt_{refused.code}"
                problem = f"{peer.name} answered with a receipt that does not verify."
    transfer = get_transfer(actor, transfer_id)
    if problem:
        record(
            actor,
            LedgerAction.TRANSFER_DELIVERY_FAILED,
            Subject("transfer", transfer.id),
            to_hub=peer.id,
            package=package_id,
            reason=code,
        )
        return Delivery(transfer, problem)
    record_receipt(actor, transfer, str(body["receipt"]), claims)
    return Delivery(transfer, "")


def record_receipt(actor: Actor, transfer: Transfer, receipt: str, claims: dict[str, Any]) -> None:
    """The other hub holds the case now: keep its receipt, and move the old case on."""
    transfer.receipt = receipt
    transfer.receipt_at = now()
    transfer.status = TransferStatus.ACKNOWLEDGED
    transfer.acknowledged_at = now()
    old = session().get(Referral, transfer.referral_id) if transfer.referral_id else None
    if old is not None and old.status in lifecycle.MOVES[Decision.TRANSFER].start:
        lifecycle.move(old, Decision.TRANSFER)
        sending_idva_task(transfer, old)
    record(
        actor,
        LedgerAction.TRANSFER_RECEIPT_RECORDED,
        Subject("transfer", transfer.id),
        case=transfer.referral_id,
        to_hub=transfer.peer_hub,
        package=transfer.package_id,
        their_transfer=claims.get("transfer") if isinstance(claims.get("transfer"), int) else None,
    )
