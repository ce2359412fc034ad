"""The web shell: security headers, error pages and problem JSON."""

from __future__ import annotations

from tests.support.web import sign_in, text


def test_pages_carry_security_headers(client) -> None:
    response = client.get("/sign-in")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script(client, world) -> None:
    person = world["coordinator"]
    sign_in(client, person.email, person.password, person.totp_secret)
    for url in ("/sign-in", "/", "/account"):
        html = text(client.get(url))
        assert "<script>" not in html and "<script " not in html.replace(
            '<script type="module" src=', ""
        )
        assert "style=" not in html


def test_signed_out_visitor_is_sent_to_sign_in(client) -> None:
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in?next=/account")


def test_unknown_page_is_a_govuk_404(client) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in text(response)


def test_api_paths_answer_with_problem_json(client) -> None:
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["status"] == 404


def test_wrong_method_keeps_the_allow_header(client) -> None:
    response = client.delete("/sign-in")
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_member_without_permission_gets_403(client, world) -> None:
    person = world["police_officer"]
    sign_in(client, person.email, person.password, person.totp_secret)
    response = client.get("/admin/members")
    assert response.status_code == 403
    assert "You do not have access" in text(response)


def test_assets_are_served_for_the_stylesheet(client) -> None:
    assert client.get("/assets/govuk-frontend.min.css").status_code == 200
    assert client.get("/static/css/hub.css").status_code == 200
