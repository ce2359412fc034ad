"""Crawl the hub as one persona: every GET link from home, breadth first, and what they link.

A member signs in through the real pages (password, then the TOTP code) and the crawl
follows, from the home page, every ``<a href>`` and every ``<form method="get">`` (with its
default values, unless it only filters or searches its own page, and once per matching
probe: a victim's name in the "does a case exist" search, a case id in the ledger search)
within the hub. It never follows sign-out, sign-in
or anything else that changes state, and never posts. PDFs are read with ``pdftotext``; CSV
and JSON are read as text. Then it tries the forged GETs a curious person would (every case
id of the scenario and one that does not exist, on the case and consent pages, or the
auditor's "who has seen" page), recording those as probes.

The partner system has no pages: it reads the API's list and read endpoints with its bearer
token, and tries every case id the same way.

Each crawl is bounded (``PAGE_LIMIT`` requests, and a few shapes sampled, like one ledger
entry page of many); a bound that cuts the crawl short is reported, never silent.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import tempfile
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

#: Requests one persona's crawl may make before it stops (and says so).
PAGE_LIMIT = 400
#: URL shapes of which only a sample is fetched: a ledger search links every entry it lists.
SAMPLED = {"/ledger/entries/<n>": 6}
#: Never followed: signing in or out, identity-provider hand-offs, invitations, static files.
NEVER = (
    "/sign-out",
    "/sign-in",
    "/signed-out",
    "/auth/",
    "/invitation/",
    "/assets/",
    "/static/",
    "/meetings/static/",
    "/api/",
)
HOSTS = {"", "localhost", "127.0.0.1", "127.0.0.1:5000"}


@dataclass
class Page:
    """One response the crawl read, and its text as a person or system would read it."""

    persona: str
    url: str
    status: int
    kind: str  # html, pdf, csv, json, text, mail
    text: str
    #: How the crawl got here: link, form, probe, api, mail.
    via: str
    #: Values the crawl typed into a form (their echo on the page is not a disclosure).
    typed: tuple[str, ...] = ()
    request_id: str = ""


@dataclass
class Crawl:
    persona: str
    pages: list[Page] = field(default_factory=list)
    #: Bounds that cut the crawl short: (what, how many were left out).
    cut: list[tuple[str, int]] = field(default_factory=list)
    #: Forged GETs: (template, case key or "missing") -> the response.
    probes: dict[tuple[str, str], Page] = field(default_factory=dict)


# --- reading responses ------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    """The text of a PDF as ``pdftotext`` (poppler) extracts it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "page.pdf"
        path.write_bytes(data)
        done = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(path), "-"],
            capture_output=True,
            check=True,
        )
        return done.stdout.decode("utf-8", "replace")


def kind_of(response: Any) -> str:
    mimetype = (response.mimetype or "").lower()
    if mimetype == "application/pdf":
        return "pdf"
    if mimetype in {"text/csv", "application/csv"}:
        return "csv"
    if mimetype.endswith("json"):
        return "json"
    if mimetype == "text/html":
        return "html"
    return "text"


def text_of(response: Any, kind: str) -> str:
    data = response.get_data()
    if kind == "pdf":
        return pdf_text(data) if data.startswith(b"%PDF") else data.decode("utf-8", "replace")
    text = data.decode("utf-8", "replace")
    return html.unescape(text) if kind == "html" else text


# --- links and forms --------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)


class _Links(HTMLParser):
    """Collect ``<a href>`` targets and GET forms with their default values."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: tuple[str, list[str], list[str]] | None = None  # name, selected, all
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = Form(a.get("action", ""), (a.get("method") or "get").lower())
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            self._form.names.add(a["name"])
            kind = a.get("type", "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            self._form.fields.append(
                (a["name"], a.get("value", "on" if kind == "checkbox" else ""))
            )
        elif tag == "select" and a.get("name"):
            self._form.names.add(a["name"])
            self._select = (a["name"], [], [])
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            self._select[2].append(value)
            if "selected" in a:
                self._select[1].append(value)
        elif tag == "textarea" and a.get("name"):
            self._form.names.add(a["name"])
            self._textarea = (a["name"], [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self._form is not None:
            name, selected, every = self._select
            chosen = selected[:1] or every[:1]
            self._form.fields.extend((name, v) for v in chosen)
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea[0], "".join(self._textarea[1]).strip()))
            self._textarea = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


def links_and_forms(body: str) -> tuple[list[str], list[Form]]:
    parser = _Links()
    parser.feed(body)
    parser.close()
    return parser.links, parser.forms


def normalise(base: str, href: str) -> str | None:
    """The hub-internal URL a link points at (path and sorted query), or None."""
    target = urlsplit(urljoin(base, href.strip()))
    if target.scheme not in {"", "http", "https"} or target.netloc not in HOSTS:
        return None
    path = target.path or "/"
    if any(path.startswith(prefix) for prefix in NEVER):
        return None
    query = urlencode(sorted(parse_qsl(target.query, keep_blank_values=True)))
    return path + (f"?{query}" if query else "")


def shape(url: str) -> str:
    """A URL with its numbers taken out, to group findings and sample pages."""
    path, _, query = url.partition("?")
    path = re.sub(r"/\d+(?=/|$)", "/<n>", path)
    keys = sorted({k for k, v in parse_qsl(query, keep_blank_values=True) if v})
    return path + (("?" + "&".join(keys)) if keys else "")


# --- the crawl --------------------------------------------------------------------------------


@dataclass
class Probes:
    """What the crawl tries beyond links (the same for every persona)."""

    #: Values to type into GET forms whose fields include every key of one set.
    form_values: list[dict[str, str]] = field(default_factory=list)
    #: Forged GETs: path templates with ``{id}``, tried for each id below.
    templates: list[str] = field(default_factory=list)
    #: What the forged GETs are about (a case key, or "missing") -> its id.
    ids: dict[str, int] = field(default_factory=dict)

    def urls(self) -> list[tuple[str, str, str]]:
        """(template, about, url) for every forged GET."""
        return [(t, about, t.format(id=i)) for t in self.templates for about, i in self.ids.items()]


def crawl_pages(client: Any, persona: str, probes: Probes, *, start: str = "/") -> Crawl:
    """Breadth first from ``start`` as the signed-in client, then the forged GETs."""
    result = Crawl(persona)
    queue: deque[tuple[str, str, tuple[str, ...]]] = deque([(start, "link", ())])
    seen = {start}
    sampled: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    fetched = 0
    while queue:
        url, via, typed = queue.popleft()
        if fetched >= PAGE_LIMIT:
            result.cut.append((f"page limit {PAGE_LIMIT}", len(queue) + 1))
            break
        fetched += 1
        response = client.get(url)
        kind = kind_of(response)
        text = text_of(response, kind)
        result.pages.append(
            Page(
                persona,
                url,
                response.status_code,
                kind,
                text,
                via,
                typed,
                response.headers.get("X-Request-Id", ""),
            )
        )
        found: list[tuple[str, str, tuple[str, ...]]] = []
        if response.status_code in {301, 302, 303, 307, 308}:
            target = normalise(url, response.headers.get("Location", ""))
            if target:
                found.append((target, via, ()))
        elif kind == "html":
            links, forms = links_and_forms(response.get_data(as_text=True))
            found += [(t, "link", ()) for t in (normalise(url, h) for h in links) if t]
            for form in forms:
                if form.method != "get":
                    continue
                action = normalise(url, form.action or url)
                if action is None:
                    continue
                base = action.partition("?")[0]
                if base != url.partition("?")[0]:
                    # A form on its own page (filters, a search) with its defaults shows the
                    # page again, or nothing: only forms that lead elsewhere are sent as is.
                    found.append((_with_query(base, form.fields), "form", ()))
                for values in probes.form_values:
                    if set(values) <= form.names:
                        filled = [(k, v) for k, v in form.fields if k not in values]
                        filled += sorted(values.items())
                        typed_values = tuple(v for v in values.values() if not v.isdigit())
                        found.append((_with_query(base, filled), "form", typed_values))
        for target, how, typed_values in found:
            if target in seen:
                continue
            seen.add(target)
            form_shape = shape(target)
            limit = SAMPLED.get(form_shape)
            if limit is not None:
                if sampled[form_shape] >= limit:
                    skipped[form_shape] += 1
                    continue
                sampled[form_shape] += 1
            queue.append((target, how, typed_values))
    for what, count in skipped.items():
        result.cut.append((f"sampled {SAMPLED[what]} of {what}", count))
    for template, about, url in probes.urls():
        response = client.get(url)
        kind = kind_of(response)
        page = Page(
            persona,
            url,
            response.status_code,
            kind,
            text_of(response, kind),
            "probe",
            (),
            response.headers.get("X-Request-Id", ""),
        )
        result.pages.append(page)
        result.probes[(template, about)] = page
    return result


def _with_query(path: str, fields: Iterable[tuple[str, str]]) -> str:
    query = urlencode(sorted(fields))
    return path + (f"?{query}" if query else "")


def crawl_api(client: Any, persona: str, token: str, probes: Probes) -> Crawl:
    """The partner system: its list, each case it lists, and every probed case id."""
    result = Crawl(persona)
    headers = {"Authorization": f"Bearer {token}"}

    def read(url: str, via: str) -> Page:
        response = client.get(url, headers=headers)
        page = Page(
            persona,
            url,
            response.status_code,
            "json",
            response.get_data(as_text=True),
            via,
            (),
            response.headers.get("X-Request-Id", ""),
        )
        result.pages.append(page)
        return page

    read("/api/v1/whoami", "api")
    listed = read("/api/v1/referrals", "api")
    for row in json.loads(listed.text) if listed.status == 200 else []:
        read(f"/api/v1/referrals/{row['id']}", "api")
        read(f"/api/v1/referrals/{row['id']}/consents", "api")
    for template, about, url in probes.urls():
        result.probes[(template, about)] = read(url, "probe")
    return result
