"""The error summary's links go to an element on the page: a date's to its Day box."""

from __future__ import annotations

import re

from tests.agencies.test_admin import AGENCY_FORM
from tests.support.web import signed_in, submit, text


def _summary_links(page: str) -> list[str]:
    summary = page.split('class="govuk-error-summary"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r'href="#([^"]+)"', summary)


def test_a_date_error_links_to_the_day_box(client, world) -> None:
    signed_in(client, world["admin"])
    bad = dict(AGENCY_FORM, name="", **{"isp_signed_on-month": "13"})
    response = submit(client, "/admin/agencies/new", bad)
    page = text(response)
    assert response.status_code == 422
    links = _summary_links(page)
    assert "isp_signed_on-day" in links and "isp_signed_on" not in links
    assert "name" in links  # a plain field's link is its own id
    for target in links:
        assert f'id="{target}"' in page, target
    assert re.search(r'<input[^>]*id="isp_signed_on-day"', page)
