"""Lists in pages, as GOV.UK services page them: newest first, a fixed number to a page,
numbered from 1, with the total.

A page number comes from the query string (``?page=3``). A missing one is page 1; anything
else that is not a whole number from 1 to 2^31-1 (``0``, ``-1``, ``two``, 40 digits) is a
400 that says what a page number is; a page past the last one is a 404 that says how many
pages there are. Neither reaches the database: an offset is computed only from a number in
range.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.errors import HubError, NotFound
from hub.core.inputs import bounded_id

#: Rows to a page of a list in the pages.
PAGE_SIZE = 50


class BadPage(HubError):
    """The page number is not a whole number from 1."""

    status = 400
    title = "Bad request"


def page_number(value: str | None) -> int:
    """The page a query string asks for: 1 when it names none."""
    if value is None or value == "":
        return 1
    number = bounded_id(value)
    if number is None:
        raise BadPage(
            "There is no such page: pages are numbered 1, 2, 3 and so on, and page 1 is the newest."
        )
    return number


@dataclass(frozen=True)
class Window:
    """Which rows of a list of ``total`` a page holds."""

    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the list fills (an empty list is one empty page)."""
        return max(1, -(-self.total // self.size))

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def first_shown(self) -> int:
        """The position (from 1) of the page's first row; 0 on an empty list."""
        return min(self.offset + 1, self.total)

    @property
    def last_shown(self) -> int:
        return min(self.offset + self.size, self.total)

    @property
    def previous(self) -> int | None:
        return self.number - 1 if self.number > 1 else None

    @property
    def next(self) -> int | None:
        return self.number + 1 if self.number < self.pages else None

    def check(self, what: str = "the list") -> Window:
        """This window, or a 404 when the page is past the last one."""
        if self.number > self.pages:
            pages = f"{self.pages:,} page" + ("" if self.pages == 1 else "s")
            raise NotFound(f"There is no page {self.number:,} of {what}: it has {pages}.")
        return self

    def numbers(self) -> list[int | None]:
        """The page links GOV.UK's pagination shows: the first, the last, this page and
        its neighbours, with None for each gap (an ellipsis)."""
        wanted = {1, self.pages, self.number - 1, self.number, self.number + 1}
        shown = sorted(n for n in wanted if 1 <= n <= self.pages)
        out: list[int | None] = []
        for n in shown:
            last = out[-1] if out else n - 1
            if last is not None and n - last == 2:
                out.append(n - 1)  # one page between: its number, not an ellipsis
            elif last is not None and n - last > 2:
                out.append(None)
            out.append(n)
        return out
