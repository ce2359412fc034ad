"""Marker strings seeded into every free-text field of the canary scenario.

A marker says which case and which disclosure category it belongs to, e.g. ``CNRY_C1_RISK_03``.
Markers use letters, digits and underscores only: HTML escaping leaves them alone, and PDF
text extraction neither breaks nor de-hyphenates them (a hyphen is a line-break opportunity
that ``pdftotext`` then joins back without its hyphen). A few fields accept only digits (an
NHS number, a phone number); their markers are digit strings matched with digit boundaries.

One marker may belong to several owners: a person named in two referrals (a counter-allegation
pair) belongs to both cases, and research an agency shares at the meeting is also part of that
case's minutes. A persona may see a marker when any owner allows it.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

#: The project's categories of free text (tests/canary/README in the report): the gate's data
#: categories, plus "private" for what one agency wrote for itself (research, task notes).
CATEGORY_CODES = {
    "identity": "ID",
    "risk": "RISK",
    "children": "CHILD",
    "health": "HEALTH",
    "criminal_justice": "CJ",
    "diversity": "DIV",
    "whereabouts": "WHERE",
    "minutes": "MIN",
    "private": "PRIV",
}
PRIVATE = "private"
WHEREABOUTS = "whereabouts"


@dataclass(frozen=True)
class Owner:
    """A case and category a marker belongs to (and, for private text, the writing agency)."""

    case: str
    category: str
    agency: str | None = None
    #: Where the text was typed, for the report: "incident", "research facts", ...
    field: str = ""


@dataclass
class Markers:
    """Every marker of the scenario with its owners; hands out new ones."""

    owners: dict[str, set[Owner]] = field(default_factory=dict)
    _counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    _digits: set[str] = field(default_factory=set)
    _numbers: Counter[str] = field(default_factory=Counter)

    def new(self, case: str, category: str, what: str, *, agency: str | None = None) -> str:
        """A fresh marker of one case and category."""
        code = CATEGORY_CODES[category]
        if category == PRIVATE:
            assert agency, "private text belongs to an agency"
            code += agency.upper()
        self._counts[(case, code)] += 1
        marker = f"CNRY_{case}_{code}_{self._counts[(case, code)]:02d}"
        self.owners[marker] = {Owner(case, category, agency, what)}
        return marker

    def digits(self, case: str, category: str, what: str, *, prefix: str, length: int) -> str:
        """A fresh digit-only marker (for fields that take only digits)."""
        index = int(case.lstrip("C") or 0)
        self._numbers[prefix] += 1
        body = f"{index:02d}{self._numbers[prefix]:02d}"
        value = prefix + "0" * (length - len(prefix) - len(body)) + body
        assert len(value) == length and value not in self.owners
        self.owners[value] = {Owner(case, category, None, what)}
        self._digits.add(value)
        return value

    def also(
        self, marker: str, case: str, category: str, what: str, *, agency: str | None = None
    ) -> None:
        """The same text belongs to another case or category too."""
        self.owners[marker].add(Owner(case, category, agency, what))

    def text(self, *markers: str, filler: str = "") -> str:
        """Free text holding these markers (with ordinary words where a field wants length)."""
        return " ".join([*markers, filler]).strip()

    def scan(self, text: str) -> list[str]:
        """Every marker occurrence in the text (case-insensitive: family names are shown in
        capitals), in its registered spelling.

        A word marker is read by its shape, so text that PDF extraction glued to its end does
        not hide it; a digit marker must stand alone among digits.
        """
        found = []
        for hit in WORD.finditer(text):
            marker = hit.group(0).upper()
            if marker in self.owners:
                found.append(marker)
        for hit in NUMBER.finditer(text):
            if hit.group(0) in self._digits:
                found.append(hit.group(0))
        return found

    def strays(self, text: str) -> list[str]:
        """Marker-like text that is no marker: one was cut or changed on its way out."""
        strays = []
        for hit in MARKER_LIKE.finditer(text):
            whole = WORD.match(hit.group(0))
            if whole is None or whole.group(0).upper() not in self.owners:
                strays.append(hit.group(0))
        return strays


#: A word marker's shape: CNRY_, the case, the category code, a two-digit counter.
WORD = re.compile(r"CNRY_C\d+_[A-Z]+_\d{2}", re.IGNORECASE)
NUMBER = re.compile(r"(?<![0-9])[0-9]{10,11}(?![0-9])")
#: Anything that looks like a marker, to notice one that was cut or changed on its way out.
MARKER_LIKE = re.compile(r"CNRY_[A-Za-z0-9_]*", re.IGNORECASE)
