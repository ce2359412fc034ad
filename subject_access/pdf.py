"""The response PDF: RESTRICTED top and bottom of every page, watermarked, tagged PDF/UA-1.

Rendered by the minutes' locked-down WeasyPrint (meetings.pdf); only released items reach
it, withheld ones as their exemption, blocked ones not at all.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from hub.core.clock import now, to_london
from meetings import pdf as minutes_pdf
from subject_access.bundle import Bundle
from subject_access.models import SubjectAccessRequest

_environment = Environment(
    loader=FileSystemLoader(str(Path(__file__).parent / "templates" / "subject_access" / "pdf")),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

_environment.filters["day"] = lambda value: value.strftime("%d %B %Y").lstrip("0")
_environment.filters["london"] = lambda value: to_london(value).strftime("%d %b %Y %H:%M")


def response_html(bundle: Bundle, request: SubjectAccessRequest, officer: str) -> str:
    """The response as HTML (autoescaped): what the PDF prints."""
    return _environment.get_template("response.html").render(
        bundle=bundle,
        request=request,
        officer=officer,
        produced=now().strftime("%d %B %Y").lstrip("0"),
    )


def render(bundle: Bundle, request: SubjectAccessRequest, officer: str, base_url: str) -> bytes:
    html = response_html(bundle, request, officer)
    return minutes_pdf.html_to_pdf(html, base_url=base_url)
