"""The ledger's public checkpoint and the auditor's pages."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, time, timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from audit import services
from audit.actions import LABELS, LedgerAction
from audit.directory import CaseDirectory, Erased, NoCases
from audit.forms import LedgerSearchForm
from audit.ledger import Subject, record
from hub.core.access import Permission
from hub.core.clock import LONDON, now, to_london
from hub.core.db import session
from hub.core.requestctx import actor
from hub.core.routes import public, require, require_recent_sign_in

bp = Blueprint("audit", __name__, template_folder="templates")
PAGE = 100


def init_app(app: Flask, directory: CaseDirectory) -> None:
    """Register the auditor's pages, with the directory that knows cases by reference."""
    app.register_blueprint(bp)
    app.extensions["audit.directory"] = directory


def _directory() -> CaseDirectory:
    found: CaseDirectory = current_app.extensions.get("audit.directory") or NoCases()
    return found


def _case_key(value: str, area: int) -> str:
    """The ledger's identifier for what the auditor typed: a case reference (as everyone
    knows a case) is looked up in the area; a bare number is the ledger's own identifier.
    A reference that names no case of the area stays as typed, and so finds nothing."""
    value = value.strip()
    if not value or value.isdigit():
        return value
    found = _directory().case_id(value.upper(), area)
    return value if found is None else str(found)


@bp.context_processor
def _action_labels() -> dict[str, Any]:
    """The auditor's pages name each action in words beside its code."""
    return {"action_labels": LABELS}


@bp.route("/ledger/checkpoint")
@public
def checkpoint() -> Response:
    """Serve the latest signed checkpoint so outside witnesses can keep copies.

    Its age travels with it (the hub signs again on schedule even when nothing changed):
    a witness that sees an age above twice the interval knows signing has stopped.
    """
    latest = services.latest_checkpoint()
    if latest is None:
        return Response("no checkpoint has been signed yet\n", status=404, mimetype="text/plain")
    response = Response(latest.note, mimetype="text/plain; charset=utf-8")
    interval = current_app.extensions["hub.settings"].ledger_checkpoint_minutes * 60
    response.last_modified = latest.signed_at
    response.headers["Checkpoint-Age"] = str(
        max(0, int((now() - latest.signed_at).total_seconds()))
    )
    response.headers["Checkpoint-Interval"] = str(interval)
    return response


@bp.route("/ledger/public-key")
@public
def public_key() -> Response:
    """Serve the key that verifies checkpoints (auditors should also keep it offline)."""
    key = current_app.ledger_key()  # type: ignore[attr-defined]
    return Response(key.vkey + "\n", mimetype="text/plain; charset=utf-8")


def _filters(form: LedgerSearchForm) -> services.SearchFilters:
    """The form's filters, within the auditor's own MARAC area."""

    def start(day: Any) -> datetime | None:
        return datetime.combine(day, time.min, LONDON) if day else None

    return services.SearchFilters(
        case=_case_key(form.case.data or "", _area()),
        person=form.person.data or "",
        agency=form.agency.data or "",
        member=form.member.data or "",
        action=form.action.data or "",
        date_from=start(form.date_from.data),
        date_to=start(form.date_to.data + timedelta(days=1)) if form.date_to.data else None,
        area=_area(),
    )


def _area() -> int:
    """Each area's auditors read their own area's ledger (and hub-wide entries) only."""
    who = actor()
    if who.area_id is None:
        abort(404)
    return who.area_id


def _case_of(body: dict[str, Any]) -> int | None:
    """The case an entry is about: its ``case`` field, or its subject when that is a case."""
    if isinstance(body.get("case"), int):
        return int(body["case"])
    subject = body.get("subject")
    if isinstance(subject, dict) and subject.get("type") == "case":
        found = subject.get("id")
        return found if isinstance(found, int) else None
    return None


def _erased_text(found: Erased | None) -> str:
    """ "Case NB-2026-0001: erased under policy v3 on 7 December 2026", or nothing."""
    if found is None:
        return ""
    day = to_london(found.erased_at)
    return (
        f"Case {found.reference}: erased under policy v{found.policy_version} "
        f"on {day.day} {day:%B %Y}"
    )


def _describe(found: list[services.FoundEntry]) -> list[dict[str, Any]]:
    names = current_app.extensions.get("hub.names")
    rows = []
    members: set[int] = set()
    agencies: set[int] = set()
    for entry in found:
        body = json.loads(entry.body)
        who = body.get("actor", {})
        if isinstance(who.get("member"), int):
            members.add(who["member"])
        if isinstance(who.get("agency"), int):
            agencies.add(who["agency"])
        rows.append({"entry": entry, "body": body, "actor": who})
    member_names = names("member", members) if names else {}
    agency_names = names("agency", agencies) if names else {}
    cases = {row["body"]["case"] for row in rows if isinstance(row["body"].get("case"), int)}
    references = _directory().references(cases, _area()) if cases else {}
    about = {_case_of(row["body"]) for row in rows} - {None} - set(references)
    for row in rows:
        listed = row["body"].get("cases")
        if isinstance(listed, list):
            about.update(c for c in listed if isinstance(c, int))
    erased = _directory().erasures(about, _area()) if about else {}  # type: ignore[arg-type]
    for row in rows:
        who = row["actor"]
        row["case_reference"] = references.get(row["body"].get("case"), "")
        gone = erased.get(_case_of(row["body"]))  # type: ignore[arg-type]
        row["erased"] = _erased_text(gone)
        row["erased_reference"] = gone.reference if gone else ""
        listed = row["body"].get("cases")
        row["erased_cases"] = [
            _erased_text(erased[c])
            for c in (listed if isinstance(listed, list) else [])
            if c in erased
        ]
        row["who"] = member_names.get(who.get("member"), who.get("name") or who.get("kind"))
        row["agency"] = agency_names.get(who.get("agency"), "")
        row["details"] = {
            k: v
            for k, v in row["body"].items()
            if k not in {"v", "id", "at", "action", "actor", "request"}
        }
    return rows


@bp.route("/ledger")
@require(Permission.AUDIT_READ)
def search() -> Any:
    form = LedgerSearchForm(request.args)
    searched = any(request.args.get(k) for k in request.args)
    rows: list[dict[str, Any]] = []
    page = max(request.args.get("page", 1, type=int), 1)
    status = 200
    if searched and not form.validate():
        status = 422
    elif searched:
        found = services.search(session(), _filters(form), limit=PAGE + 1, offset=(page - 1) * PAGE)
        rows = _describe(found[:PAGE])
        record(
            actor(),
            LedgerAction.LEDGER_SEARCHED,
            None,
            results=len(rows),
            **{
                k: v
                for k, v in (
                    ("case", form.case.data),
                    ("person", form.person.data),
                    ("agency", form.agency.data),
                    ("member", form.member.data),
                )
                if v
            },
        )
    state = services.status(session())
    return render_template(
        "audit/search.html",
        form=form,
        rows=rows,
        state=state,
        searched=searched,
        page=page,
        more=searched and len(rows) == PAGE,
    ), status


@bp.route("/ledger/entries/<int(max=9223372036854775807):entry_id>")
@require(Permission.AUDIT_READ)
def entry(entry_id: int) -> str:
    found = services.get_entry(session(), entry_id, area=_area())
    if found is None:
        abort(404)
    proof = services.prove_inclusion(session(), found.index) if found.index is not None else None
    row = _describe([found])[0]
    record(actor(), LedgerAction.LEDGER_ENTRY_VIEWED, Subject("ledger_entry", entry_id))
    reveal = row["body"].get("reveal")
    reason = None
    if isinstance(reveal, int) and isinstance(row["body"].get("case"), int):
        reason = _directory().reveal_reason(reveal, _area())
        if reason is not None:
            record(
                actor(),
                LedgerAction.LEDGER_REVEAL_REASON_READ,
                Subject("case", row["body"]["case"]),
                reveal=reveal,
                entry=entry_id,
            )
    return render_template(
        "audit/entry.html",
        row=row,
        reason=reason,
        proof=proof,
        pretty=json.dumps(row["body"], indent=2, ensure_ascii=False),
    )


#: A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A text cell a spreadsheet shows as text: a leading quote defuses a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


@bp.route("/ledger/export.csv")
@require(Permission.AUDIT_EXPORT)
@require_recent_sign_in()
def export_csv() -> Response:
    form = LedgerSearchForm(request.args)
    if not form.validate():
        abort(400)
    found = services.search(session(), _filters(form), limit=50_000)
    rows = _describe(found)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["entry", "index", "at", "action", "member", "agency", "proven", "details"])
    for row in rows:
        e = row["entry"]
        writer.writerow(
            [
                _cell(e.entry_id),
                "" if e.index is None else e.index,
                e.at.isoformat(),
                _cell(e.action),
                _cell(row["who"]),
                _cell(row["agency"]),
                "yes" if e.proven else "not yet",
                _cell(json.dumps(row["details"], sort_keys=True, ensure_ascii=False)),
            ]
        )
    record(actor(), LedgerAction.LEDGER_CSV_EXPORTED, None, results=len(rows))
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=ledger-search.csv"
    return response


@bp.route("/ledger/cases/<case_ref>")
@require(Permission.AUDIT_READ)
def who_has_seen(case_ref: str) -> str:
    """Every disclosure of one case, grouped by agency and then member."""
    if len(case_ref) > 64 or not case_ref.replace("-", "").replace("_", "").isalnum():
        abort(404)
    key = _case_key(case_ref, _area())
    if not key.isdigit():
        abort(404)  # no case of this area has that reference
    reference = _directory().references([int(key)], _area()).get(int(key), case_ref)
    erased = _erased_text(_directory().erasures([int(key)], _area()).get(int(key)))
    found = services.search(session(), services.SearchFilters(case=key, area=_area()), limit=50_000)
    rows = _describe(found)
    # For each agency and person: what they were shown, what they were refused, and what
    # else they did to the case (wrote, shared, decided), each in the order it happened.
    groups: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {}
    for row in rows:
        if row["entry"].action == LedgerAction.ACCESS_DENIED:
            kind = "refused"
        elif "categories" in row["details"]:
            kind = "shown"
        else:
            kind = "did"
        person = groups.setdefault(row["agency"] or "No agency", {}).setdefault(
            str(row["who"]), {"shown": [], "refused": [], "did": []}
        )
        person[kind].append(row)
    record(actor(), LedgerAction.LEDGER_CASE_REVIEWED, Subject("case", int(key)))
    return render_template(
        "audit/who_has_seen.html",
        case_ref=reference,
        groups=groups,
        total=len(rows),
        erased=erased,
    )


@bp.route("/ledger/cases")
@require(Permission.AUDIT_READ)
def find_case() -> BaseResponse:
    """The "who has seen a case" box: a case reference, then that case's page."""
    typed = (request.args.get("reference") or "").strip()
    if not typed:
        return redirect(url_for("audit.search"))
    if len(typed) > 64 or not typed.replace("-", "").replace("_", "").isalnum():
        abort(404)
    return redirect(url_for("audit.who_has_seen", case_ref=typed.upper()))
