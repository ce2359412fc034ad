"""The ledger's public checkpoint and the auditor's pages."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from audit import services
from hub.core.access import Permission, public, require

bp = Blueprint("audit", __name__, template_folder="templates")


@bp.route("/ledger/checkpoint")
@public
def checkpoint() -> Response:
    """Serve the latest signed checkpoint so outside witnesses can keep copies."""
    latest = services.latest_checkpoint()
    if latest is None:
        return Response("no checkpoint has been signed yet\n", status=404,
                        mimetype="text/plain")
    response = Response(latest.note, mimetype="text/plain; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/ledger")
@require(Permission.AUDIT_READ)
def search() -> str:
    return render_template("audit/search.html", size=services.current_size())
