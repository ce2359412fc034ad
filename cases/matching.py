"""Person matching for "search before create" and repeat detection.

Matching only *suggests*: it returns a level and plain reasons for the coordinator to confirm.
Nothing here merges or links records.

Rules of ``score_match``, in order:

1. Both records have an NHS number and they differ: a strong non-match ("none"), whatever the
   names say. If the police person ids are nevertheless the same, the identifiers contradict
   each other and the result is "possible", so a person checks it.
2. Same NHS number, or same police person id: "strong".
3. Same normalised full name (or an alias matching a name or alias) and the same date of
   birth: "strong". With no date of birth on one side or both: "possible". With different dates
   of birth: "none".
4. Same family name and first initial, and the same date of birth: "possible".
5. Anything else: "none".

Repeat window (SafeLives: any abuse "within 12 months of the date of the last referral" is a
repeat; anything after is new): the window ends on the same day of the month one year later,
and that anniversary day is still **inside** the window. A last referral on 29 February ends
its window on 28 February. Including the anniversary errs towards re-referral, which is the
safer mistake when the question is whether a victim's case comes back to MARAC.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

__all__ = [
    "HONORIFICS",
    "MatchInput",
    "MatchLevel",
    "MatchScore",
    "match_key",
    "match_key_pattern",
    "name_keys",
    "normalise_name",
    "repeat_window_ends_on",
    "score_match",
    "within_repeat_window",
]

MatchLevel = Literal["strong", "possible", "none"]

#: Titles dropped from the start of a name before comparing.
HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "master", "prof", "sir", "dame"})

#: Letters that Unicode does not decompose into a base letter plus an accent.
_LETTERS = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
#: Apostrophes join (O'Brien = OBrien); every other character that is not a letter, digit or
#: spacing mark separates words.
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
#: Joins the words of one key inside ``match_key`` (not a LIKE wildcard, never in a name).
_KEY_JOINER = "+"


def normalise_name(text: str) -> str:
    """Casefold, strip accents, turn punctuation into spaces and drop leading titles.

    "  Mrs  Zoë  O'Brien-Smith " -> "zoe obrien smith". Idempotent.
    """
    bare = _APOSTROPHES.sub("", _fold(_fold(text).casefold()).translate(_LETTERS))
    words = "".join(c if _is_word_char(c) else " " for c in bare).split()
    while words and words[0] in HONORIFICS:
        words.pop(0)
    return " ".join(words)


def _fold(text: str) -> str:
    """Decompose compatibility characters and drop accents (nonspacing marks)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char) == "Mc"


@dataclass(frozen=True)
class _Names:
    """One record's names: full-name keys and initial+family keys, split by where they came from."""

    primary: frozenset[str]
    aliases: frozenset[str]
    initials: frozenset[str]

    @property
    def full(self) -> frozenset[str]:
        return self.primary | self.aliases


def _split(given: str, family: str) -> tuple[str, str]:
    return normalise_name(given), normalise_name(family)


def _pair_keys(given: str, family: str) -> tuple[str | None, str | None]:
    """Return the full key and the initial+family key; None where a part is missing."""
    if not given or not family:
        return None, None
    return f"{given} {family}", f"{given[0]} {family}"


def _alias_parts(line: str, family: str) -> tuple[str, str]:
    """Split one alias line into (given, family), both normalised.

    A line of several words is "given names ... family name", where the family name is the
    last word, or the record's own family name when the line ends with it (so a double-barrelled
    family name stays whole). A single word is taken as another given name (a nickname) used
    with the record's own family name.
    """
    name = normalise_name(line)
    words = name.split()
    if not words:
        return "", ""
    if len(words) == 1:
        return name, family
    if family and name.endswith(f" {family}"):
        return name.removesuffix(f" {family}"), family
    return " ".join(words[:-1]), words[-1]


def _names(given: str, family: str, aliases: str) -> _Names:
    norm_given, norm_family = _split(given, family)
    full, initial = _pair_keys(norm_given, norm_family)
    primary = {full} if full else set()
    initials = {initial} if initial else set()
    alias_keys: set[str] = set()
    for line in aliases.splitlines():
        alias_full, alias_initial = _pair_keys(*_alias_parts(line, norm_family))
        if alias_full and alias_initial:
            alias_keys.add(alias_full)
            initials.add(alias_initial)
    return _Names(frozenset(primary), frozenset(alias_keys - primary), frozenset(initials))


def name_keys(given: str, family: str, aliases: str = "") -> set[str]:
    """Return the normalised "given family" keys for the name and each alias line (one per
    line), plus "initial family" keys. A name needs both parts to produce a key."""
    names = _names(given, family, aliases)
    return set(names.full | names.initials)


def match_key(given: str, family: str, aliases: str = "") -> str:
    """Return the value stored in ``Person.match_key`` for indexed LIKE search.

    The sorted keys, each with its words joined by "+", separated by single spaces and with a
    space at each end, so a whole key is found with ``match_key LIKE '% jane+smith %'`` (see
    ``match_key_pattern``). Stable: the same names always give the same string.
    """
    keys = sorted(key.replace(" ", _KEY_JOINER) for key in name_keys(given, family, aliases))
    return f" {' '.join(keys)} " if keys else ""


def match_key_pattern(key: str) -> str:
    """Return the LIKE pattern that finds one key from ``name_keys`` in a stored match_key.

    Normalised keys contain only letters, digits and spaces, so no LIKE escaping is needed.
    """
    return f"% {key.replace(' ', _KEY_JOINER)} %"


# --- scoring --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchInput:
    given: str
    family: str
    aliases: str = ""
    born_on: date | None = None
    nhs_number: str = ""
    police_person_id: str = ""


@dataclass(frozen=True)
class MatchScore:
    level: MatchLevel
    reasons: list[str] = field(default_factory=list)


def _identifier(value: str) -> str:
    return "".join(c for c in value.upper() if c.isalnum())


def _identifier_reasons(a: MatchInput, b: MatchInput) -> tuple[bool, bool, bool, list[str]]:
    """Return (same NHS, different NHS, same police id, reasons)."""
    nhs_a, nhs_b = _identifier(a.nhs_number), _identifier(b.nhs_number)
    police_a, police_b = _identifier(a.police_person_id), _identifier(b.police_person_id)
    same_nhs = bool(nhs_a) and nhs_a == nhs_b
    different_nhs = bool(nhs_a and nhs_b) and nhs_a != nhs_b
    same_police = bool(police_a) and police_a == police_b
    reasons: list[str] = []
    if same_nhs:
        reasons.append("same NHS number")
    if different_nhs:
        reasons.append("different NHS numbers")
    if same_police:
        reasons.append("same police person id")
    elif police_a and police_b:
        reasons.append("different police person ids")
    return same_nhs, different_nhs, same_police, reasons


def _name_reasons(a: MatchInput, b: MatchInput) -> tuple[bool, bool, list[str]]:
    """Return (same full name or alias, same family name and initial, reasons)."""
    names_a, names_b = _names(a.given, a.family, a.aliases), _names(b.given, b.family, b.aliases)
    if names_a.primary & names_b.primary:
        return True, True, ["same name"]
    if names_a.full & names_b.full:
        return True, True, ["alias matches"]
    if names_a.initials & names_b.initials:
        return False, True, ["same family name and first initial"]
    return False, False, []


def _birth_reason(a: MatchInput, b: MatchInput) -> str:
    if a.born_on is None and b.born_on is None:
        return "no date of birth on either record"
    if a.born_on is None or b.born_on is None:
        return "date of birth missing on one record"
    if a.born_on == b.born_on:
        return "same date of birth"
    return "different date of birth"


def score_match(candidate: MatchInput, query: MatchInput) -> MatchScore:
    """Say how likely two records are the same person, with reasons, for a person to confirm.

    Symmetric: swapping the arguments gives the same level.
    """
    same_nhs, different_nhs, same_police, reasons = _identifier_reasons(candidate, query)
    same_name, same_initial, name_reasons = _name_reasons(candidate, query)
    birth = _birth_reason(candidate, query)
    reasons = [*reasons, *name_reasons, birth]
    if different_nhs:
        return MatchScore("possible" if same_police else "none", reasons)
    if same_nhs or same_police:
        return MatchScore("strong", reasons)
    if same_name and birth == "same date of birth":
        return MatchScore("strong", reasons)
    if same_name and birth != "different date of birth":
        return MatchScore("possible", reasons)
    if same_initial and birth == "same date of birth":
        return MatchScore("possible", reasons)
    return MatchScore("none", reasons)


# --- repeat window --------------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    """Return the same day of the month ``months`` later, clamped to the month's last day."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last_day))


def repeat_window_ends_on(last_referred_on: date, *, months: int = 12) -> date:
    """Return the last day that still counts as a repeat of ``last_referred_on``.

    The same day of the month ``months`` later (the anniversary, inclusive); 29 February maps
    to 28 February. ``months`` is an area setting; SafeLives uses 12.
    """
    if months < 1:
        raise ValueError(f"The repeat window must be at least one month (got {months})")
    return _add_months(last_referred_on, months)


def within_repeat_window(last_referred_on: date, now_on: date, *, months: int = 12) -> bool:
    """True when ``now_on`` falls in the repeat window of the last referral: from the day of
    that referral to its anniversary, both included. After the window it is a new referral.

    A ``now_on`` before ``last_referred_on`` is not in the window (False), so a caller comparing
    against a referral dated later does not treat it as an earlier one.
    """
    return last_referred_on <= now_on <= repeat_window_ends_on(last_referred_on, months=months)
