"""The coordinators' transfer pages: start one from a case, the area's transfers, one transfer.

Views are thin: parse, call one service, render. Only coordinators (REFERRALS_TRIAGE) reach
them; the receiving area's pages show the pack as sent, never the old case.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from hub.core.access import Permission
from hub.core.errors import NotFound, ValidationFailed
from hub.core.forms import apply_errors, choices
from hub.core.inputs import MAX_ID
from hub.core.requestctx import actor
from hub.core.routes import public, require
from transfers import between, services
from transfers.forms import DeclineForm, PlainForm, StartForm
from transfers.models import TransferStatus

bp = Blueprint("transfers", __name__, template_folder="templates")
#: The coordinators' one-button steps.
STEP = f"/transfers/<int(max={MAX_ID}):transfer_id>/<any(send, deliver, acknowledge, accept):step>"
#: A remote area's value in the form: the other hub's identifier and the area's name.
REMOTE = "hub:"


def _federation() -> Any:
    return current_app.federation()  # type: ignore[attr-defined]


@bp.route("/transfers/hub-keys.json")
@public
def hub_keys() -> Response:
    """This hub's public transfer keys (JWKS), for other hubs' trust lists to pin."""
    fed = _federation()
    if not fed.enabled:
        raise NotFound("This hub takes no part in transfers between hubs.")
    return jsonify({"hub": fed.hub_id, "name": fed.name, **fed.public_keys()})


@bp.route("/transfers")
@require(Permission.REFERRALS_TRIAGE)
def index() -> Any:
    return render_template("transfers/index.html", rows=services.list_transfers(actor()))


@bp.route(f"/cases/<int(max={MAX_ID}):referral_id>/transfer", methods=["GET", "POST"])
@require(Permission.REFERRALS_TRIAGE)
def new(referral_id: int) -> Any:
    who = actor()
    referral = services.open_for_transfer(who, referral_id)
    form = StartForm()
    trusted = _federation().peers
    form.to_area.choices = choices(
        [
            ("", "Select a MARAC"),
            *((str(a.id), a.name) for a in services.directory(who)),
            *(
                (REMOTE + r.value, f"{r.area} ({r.hub_name})")
                for r in services.remote_directory(trusted)
            ),
        ]
    )
    if request.method == "POST":
        form.validate()
        chosen = form.to_area.data or ""
        hub, _, hub_area = chosen.removeprefix(REMOTE).partition("|")
        remote = chosen.startswith(REMOTE)
        try:
            found = services.start_transfer(
                who,
                referral_id,
                services.StartData(
                    to_area_id=int(chosen) if chosen.isdigit() else None,
                    reason=form.reason.data or "",
                    heard_here=form.heard_here.data or "",
                    agenda_circulated=form.agenda_circulated.data or "",
                    to_hub=hub if remote else "",
                    to_hub_area=hub_area if remote else "",
                ),
                trusted,
            )
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"Transfer {found.label} saved. Check it, then send the pack.", "success")
            return redirect(url_for("transfers.show", transfer_id=found.id), code=303)
    return render_template("transfers/new.html", form=form, reference=referral.reference), (
        422 if request.method == "POST" else 200
    )


def _page(transfer_id: int, status: int = 200, decline_form: DeclineForm | None = None) -> Any:
    who = actor()
    transfer = services.get_transfer(who, transfer_id)
    pack = services.read_pack(who, transfer) if transfer.pack else {}
    return render_template(
        "transfers/transfer.html",
        transfer=transfer,
        pack=pack,
        incoming=who.area_id == transfer.to_area_id,
        from_area=services.from_name(transfer),
        to_area=services.to_name(transfer),
        peer_name=_peer_name(transfer.peer_hub),
        reference=services.case_reference(who, transfer),
        form=PlainForm(),
        decline_form=decline_form or DeclineForm(),
        statuses=TransferStatus,
    ), status


def _peer_name(hub_id: str) -> str:
    peer = _federation().peer(hub_id) if hub_id else None
    return peer.name if peer else hub_id


@bp.route(f"/transfers/<int(max={MAX_ID}):transfer_id>")
@require(Permission.REFERRALS_TRIAGE)
def show(transfer_id: int) -> Any:
    return _page(transfer_id)


@bp.route(STEP, methods=["POST"])
@require(Permission.REFERRALS_TRIAGE)
def step(transfer_id: int, step: str) -> Any:
    who = actor()
    if step == "deliver":
        delivery = between.deliver_transfer(who, transfer_id, _federation())
        if delivery.problem:
            flash(delivery.problem, "info")
        else:
            flash(f"Transfer {delivery.transfer.label} delivered: the receipt is kept.", "success")
        return redirect(url_for("transfers.show", transfer_id=transfer_id), code=303)
    act = {
        "send": lambda w, t: services.send_transfer(w, t, _federation()),
        "acknowledge": services.acknowledge_transfer,
        "accept": services.accept_transfer,
    }[step]
    try:
        done = act(who, transfer_id)
    except ValidationFailed as error:
        flash(error.message, "info")
    else:
        flash(f"Transfer {done.label} is now {done.status.label.lower()}.", "success")
    return redirect(url_for("transfers.show", transfer_id=transfer_id), code=303)


@bp.route(f"/transfers/<int(max={MAX_ID}):transfer_id>/decline", methods=["POST"])
@require(Permission.REFERRALS_TRIAGE)
def decline(transfer_id: int) -> Any:
    form = DeclineForm()
    if form.validate():
        try:
            done = services.decline_transfer(actor(), transfer_id, form.reason.data or "")
        except ValidationFailed as error:
            apply_errors(form, error)
        else:
            flash(f"Transfer {done.label} declined.", "success")
            return redirect(url_for("transfers.show", transfer_id=transfer_id), code=303)
    return _page(transfer_id, 422, decline_form=form)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
