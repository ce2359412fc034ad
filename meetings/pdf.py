"""HTML to PDF with WeasyPrint, locked down.

* The HTML comes from a Jinja environment of its own with autoescaping on, so minutes text
  that looks like HTML or CSS is printed as text, never interpreted.
* ``StaticOnlyFetcher`` is the only way WeasyPrint may load anything: it serves files under
  the hub's own static folder for ``<base_url>/static/...`` and refuses everything else
  (``file://``, ``data:``, other hosts, paths that climb out of the folder). A refused URL
  is logged and remembered on the fetcher; the PDF renders without it.
* Fonts are the system's (fonts-liberation, fonts-dejavu) through fontconfig: nothing is
  fetched for them. ``@page`` margin boxes set their own font-family, since they do not
  inherit the body's.
"""

from __future__ import annotations

import logging
import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).parent / "templates" / "meetings" / "pdf"
#: The hub's own static files, the one place the PDF may load from.
HUB_STATIC = Path(__file__).resolve().parents[1] / "hub" / "web" / "static"


class RefusedURL(ValueError):
    """WeasyPrint asked for something outside the hub's static files."""


class StaticOnlyFetcher(URLFetcher):
    """Serve ``<base_url>/static/<path>`` from the static folder; refuse every other URL."""

    def __init__(self, base_url: str, static_root: Path = HUB_STATIC) -> None:
        super().__init__(
            allowed_protocols=("http", "https"), allow_redirects=False, fail_on_errors=False
        )
        parts = urlsplit(base_url)
        self.scheme = parts.scheme.lower()
        self.netloc = parts.netloc.lower()
        self.prefix = parts.path.rstrip("/") + "/static/"
        self.root = static_root.resolve()
        self.refused: list[str] = []
        self.served: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        try:
            path = self._local_path(url)
        except RefusedURL:
            self.refused.append(url)
            log.warning("PDF renderer refused to fetch a URL outside the hub's static files")
            raise
        self.served.append(url)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

    def _local_path(self, url: str) -> Path:
        parts = urlsplit(url)
        if parts.scheme.lower() != self.scheme or parts.netloc.lower() != self.netloc:
            raise RefusedURL("only the hub's own static files may be fetched")
        if parts.query or parts.fragment or "\\" in url:
            raise RefusedURL("static file URLs carry no query or fragment")
        path = unquote(parts.path)
        if not path.startswith(self.prefix):
            raise RefusedURL("only the hub's own static files may be fetched")
        target = (self.root / path[len(self.prefix) :]).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            raise RefusedURL("no such static file")
        return target


_environment = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_html(template: str, **context: Any) -> str:
    """Render a PDF template with autoescaping (text stays text)."""
    return _environment.get_template(template).render(**context)


def html_to_pdf(html: str, *, base_url: str, fetcher: StaticOnlyFetcher | None = None) -> bytes:
    """Lay out the HTML and return the PDF's bytes, fetching only hub static files."""
    fetcher = fetcher or StaticOnlyFetcher(base_url)
    document = HTML(string=html, base_url=base_url.rstrip("/") + "/", url_fetcher=fetcher)
    # PDF/UA-1: a tagged PDF (headings, paragraphs, tables, reading order, the document's
    # language and title) that a screen reader can follow, as the minutes must be accessible.
    return bytes(document.write_pdf(pdf_variant="pdf/ua-1"))
