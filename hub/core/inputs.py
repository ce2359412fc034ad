"""Input the whole application refuses early: ids no database row can have, JSON too deep.

Ids are INTEGER columns, 32-bit on PostgreSQL (the ledger's entries are 64-bit): a larger
number in a URL names no row, so it is a 404 like any other missing row (PostgreSQL would
otherwise refuse the query as out of range and SQLite raise OverflowError, both a 500). A
route whose ids are 64-bit says so: ``<int(max=9223372036854775807):entry_id>``.

A JSON body is parsed once before any view sees it, with limits Python's parser does not
have on its own: nesting (a body nested 5,000 deep exhausts the interpreter's recursion, a
500) and the length of numbers (a 5,000-digit integer is refused with ValueError only past
4,300 digits, and a smaller one overflows the databases): whole numbers in a body stop at
2^31-1, like the ids.

Text anywhere in a request (a JSON string or key, a form field, a query parameter) may not
hold a NUL character or, in JSON, half of a surrogate pair: PostgreSQL refuses the first in
a text column and no UTF-8 encoder can write the second, so either would reach the database
as a 500 after the view had done its work. SQLite would store them, and the two databases
must answer alike.
"""

from __future__ import annotations

import builtins
import json
import math
from typing import Any

from werkzeug.routing import IntegerConverter

#: The largest id an INTEGER column holds on PostgreSQL (signed 32-bit).
MAX_ID = 2**31 - 1
#: The largest any id column holds (BIGINT: the ledger's entries).
MAX_BIG_ID = 2**63 - 1
#: How deeply a JSON body may nest objects and arrays; the API's own schemas need 4.
MAX_JSON_DEPTH = 32


def _at_most(limit: str) -> str:
    """A regular expression for the decimal numbers from 0 to ``limit`` (digits only)."""
    shorter = rf"\d{{1,{len(limit) - 1}}}"
    same_length = [
        limit[:i] + (f"[0-{int(d) - 1}]" if d != "1" else "0") + rf"\d{{{len(limit) - i - 1}}}"
        for i, d in enumerate(limit)
        if d != "0"
    ]
    return "(?:" + "|".join([shorter, *same_length, limit]) + ")"


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` in every route: 0 to 2^31-1 unless the route gives a ``max``.

    Its regular expression matches exactly the numbers in range, so a larger one matches
    no route at all (a 404; a converter that refused it only after matching would make
    werkzeug answer 405 where another method's route has the same path).
    """

    def __init__(
        self,
        map: Any,  # noqa: A002 (werkzeug's own parameter name)
        fixed_digits: int = 0,
        min: int | None = None,  # noqa: A002
        max: int | None = MAX_ID,  # noqa: A002
        signed: bool = False,
    ) -> None:
        highest = MAX_ID if max is None else builtins.min(max, MAX_BIG_ID)
        super().__init__(map, fixed_digits, min, highest, signed)
        if not signed and not fixed_digits:
            self.regex = _at_most(str(highest))


def bounded_id(value: str | None) -> int | None:
    """A query-string id, or None when it is missing, not a number or out of range."""
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 10:
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


class UnsafeJson(ValueError):
    """The body is not JSON the hub will read; ``reason`` says why, for the problem answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _parse_int(text: str) -> int:
    # Whole numbers in a body are ids, counts and answers: none needs more than the id
    # columns hold, and a larger one would reach PostgreSQL as an out-of-range query.
    if len(text.lstrip("-")) > 10:
        raise UnsafeJson("a number in the body is too large")
    value = int(text)
    if not -MAX_ID - 1 <= value <= MAX_ID:
        raise UnsafeJson("a number in the body is too large")
    return value


def _parse_float(text: str) -> float:
    if len(text) > 40:
        raise UnsafeJson("a number in the body is too long")
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJson("a number in the body is too large")
    return value


def _parse_constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not JSON")


def _depth_ok(text: str, limit: int) -> bool:
    """Whether brackets outside strings nest no deeper than ``limit`` (one linear scan)."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return False
        elif char in "]}":
            depth -= 1
    return True


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored as it is, or None when it can."""
    if "\x00" in text:
        return "a text holds a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a text holds half of a surrogate pair"
    return None


def _check_strings(value: Any) -> None:
    # The body's depth is already bounded, so the recursion is too.
    if isinstance(value, str):
        texts: list[Any] = [value]
    elif isinstance(value, dict):
        texts = list(value.keys())
        for item in value.values():
            _check_strings(item)
    elif isinstance(value, list):
        texts = []
        for item in value:
            _check_strings(item)
    else:
        texts = []
    for text in texts:
        reason = unstorable(text)
        if reason:
            raise UnsafeJson(reason)


def check_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise UnsafeJson unless ``raw`` is JSON within the hub's limits."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeJson("the body is not UTF-8") from None
    if text.count("[") + text.count("{") > max_depth and not _depth_ok(text, max_depth):
        raise UnsafeJson(f"the body nests more than {max_depth} levels deep")
    try:
        parsed = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except UnsafeJson:
        raise
    except RecursionError:
        raise UnsafeJson("the body nests too deeply") from None
    except ValueError:
        raise UnsafeJson("the body is not valid JSON") from None
    _check_strings(parsed)
