"""Input no route may turn into a 500, and output no spreadsheet may run.

Ids larger than either database can store, JSON nested deeper than the interpreter can
follow or holding numbers too long to parse, and a ledger CSV export whose cells start
like formulas.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from werkzeug.routing import IntegerConverter

from agencies import services as agencies
from audit.ledger import Subject, record
from hub.core import db
from hub.core.access import Actor, Role
from tests.support.web import sign_in, submit

#: Beyond PostgreSQL's INTEGER ids, beyond BIGINT, and absurd.
TOO_LARGE = [2**31, 2**63, 10**30]


def _int_routes(app: Any) -> list[tuple[str, str, str]]:
    """(endpoint, method, URL with every <int:...> set to a huge number placeholder)."""
    found = []
    for rule in app.url_map.iter_rules():
        ints = [
            name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)
        ]
        if not ints:
            continue
        method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS", "HEAD"})[0]
        found.append((rule.endpoint, method, rule.rule))
    return found


def test_every_route_with_an_id_answers_404_for_an_id_no_database_can_hold(
    app: Any, client: Any, world: Any
) -> None:
    routes = _int_routes(app)
    assert len(routes) > 20  # the walk finds the app's routes, not nothing
    person = world["admin"]
    signed_in = app.test_client()
    sign_in(signed_in, person.email, person.password, person.totp_secret)
    for endpoint, method, rule in routes:
        for number in TOO_LARGE:
            if number <= 2**63 - 1 and endpoint == "audit.entry":
                continue  # the ledger's entry ids are 64-bit: tried with the larger numbers
            url = "".join(
                str(number) if part.startswith("<int") else ("x" if part.startswith("<") else part)
                for part in _split(rule)
            )
            for browser in (client, signed_in):
                response = browser.open(url, method=method)
                assert response.status_code == 404, (endpoint, method, url, response.status_code)
    # And one just inside the range is simply a row that does not exist.
    assert signed_in.get(f"/admin/identity-providers/{2**31 - 1}").status_code == 404


def _split(rule: str) -> list[str]:
    parts, current, depth = [], "", 0
    for char in rule:
        if char == "<":
            if current:
                parts.append(current)
            current, depth = "<", 1
        elif char == ">" and depth:
            parts.append(current + ">")
            current, depth = "", 0
        else:
            current += char
    if current:
        parts.append(current)
    return parts


def test_a_query_string_id_out_of_range_is_no_agency(client: Any, world: Any) -> None:
    response = client.get(f"/sign-in/agency?agency={2**63}")
    assert response.status_code == 302 and response.headers["Location"] == "/sign-in"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" * 5000 + b"]" * 5000, "nests more than"),
        (b'{"victim": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nests more than"),
        (b'{"number": ' + b"7" * 5000 + b"}", "too large"),
        (b'{"id": ' + str(2**63).encode() + b"}", "too large"),
        (b'{"id": ' + str(2**31).encode() + b"}", "too large"),
        (b'{"weight": 1e999}', "too large"),
        (b'{"x": NaN}', "not JSON"),
        (b'{"answers": {}, "incident": "#\\u0000"}', "NUL character"),
        (b'{"victim": {"given_name\\u0000": "Ann"}}', "NUL character"),
        (b'{"rationale": ["ok", "\\ud800"]}', "surrogate pair"),
    ],
    ids=[
        "deep-array",
        "deep-field",
        "5000-digits",
        "beyond-64-bits",
        "beyond-integer-ids",
        "infinite",
        "nan",
        "nul-in-a-value",
        "nul-in-a-key",
        "lone-surrogate",
    ],
)
def test_json_the_hub_will_not_read_is_a_400_problem(client: Any, body: bytes, says: str) -> None:
    for path in ("/api/v1/referrals", "/api/v1/whoami"):
        response = client.post(path, data=body, content_type="application/json")
        assert response.status_code == 400, (path, response.get_data(as_text=True)[:300])
        assert response.mimetype == "application/problem+json"
        assert says in response.get_json()["detail"]


def test_a_nul_in_a_form_field_or_the_query_is_a_400_and_saves_nothing(
    app: Any, world: Any
) -> None:
    # PostgreSQL refuses NUL in a text column: without the early check the view would do its
    # work and the commit fail as a 500, while SQLite would store it.
    admin = app.test_client()
    sign_in(admin, world["admin"].email, world["admin"].password, world["admin"].totp_secret)
    response = admin.get("/ledger?reference=NO%00")
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    form = {
        "name": "Testshire\x00 Probation",
        "type": "probation",
        "sector": "statutory",
        "isp_signed_on-day": "1",
        "isp_signed_on-month": "4",
        "isp_signed_on-year": "2026",
        "isp_signed_by": "Head of Service",
        "isp_review_due_on-day": "31",
        "isp_review_due_on-month": "3",
        "isp_review_due_on-year": "2027",
        "email_domains": "probation.test",
    }
    response = submit(admin, "/admin/agencies/new", form)
    assert response.status_code == 400
    assert "NUL character" in response.get_data(as_text=True)
    assert "Probation" not in admin.get("/admin/agencies").get_data(as_text=True)


def test_a_body_over_the_size_limit_is_a_413_problem(client: Any) -> None:
    body = b'{"x": "' + b"a" * 1_100_000 + b'"}'
    response = client.post("/api/v1/referrals", data=body, content_type="application/json")
    assert response.status_code == 413 and response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("http://evil.example","Open")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(1+1)",
        "\tTabbed",
        "\rReturned",
    ],
)
def test_the_ledger_csv_export_defuses_cells_that_start_like_formulas(
    app: Any, world: Any, name: str
) -> None:
    with db.unit_of_work():
        member = agencies.add_member(
            Actor.system(),
            agencies.MemberData(
                name=name,
                email="formula@idva.test",
                agency_id=world.agencies["idva"],
                roles=frozenset({Role.PRACTITIONER}),
            ),
        )
        member.name = name  # as stored by any path, a leading tab or return included
        record(agencies.actor_for(member), "signin:succeeded", Subject("member", member.id))
    auditor = app.test_client()
    person = world["auditor"]
    sign_in(auditor, person.email, person.password, person.totp_secret)
    exported = auditor.get("/ledger/export.csv")
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    cells = [cell for row in rows[1:] for cell in row]
    assert "'" + name in cells
    # No cell at all starts like a formula.
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
