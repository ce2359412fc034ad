"""The measures SafeLives derives from the return, for a quarter and for a rolling year,
against the recommended volume and the national figures (next-capabilities 1.3 and 1.4).

Rates per 10,000 are per year: a quarter's cases count four times over (annualised), as
the recommended volume is a yearly figure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from returns import codes

#: SafeLives' recommended volume: 40 cases a year per 10,000 women aged 16 and over, one
#: IDVA for about 100 cases a year, one administrator for 400 (SafeLives, "Reviewing your
#: Marac data").
RECOMMENDED_PER_10K = 40
CASES_PER_IDVA = 100
CASES_PER_ADMIN = 400

#: National figures for the 12 months to 30 September 2024, in tenths (SafeLives, "Marac
#: data: latest and past figures from the Marac national dataset"); offered until the
#: administrator enters newer ones.
NATIONAL_2024_09: dict[str, int] = {
    "cases_per_10k": 470,
    "repeat_rate": 310,
    "partner_share": 361,
    "victims_bame": 141,
    "victims_lgbt": 16,
    "victims_disabled": 101,
    "victims_male": 64,
    "victims_16_17": 13,
}

#: The measures that have national figures: code, label, unit ("%" or "per 10,000").
NATIONAL_MEASURES: list[tuple[str, str, str]] = [
    ("cases_per_10k", "Cases per 10,000 women aged 16 and over (a year)", "per 10,000"),
    ("repeat_rate", "Repeat cases", "%"),
    ("partner_share", "Referred by agencies other than the police", "%"),
    ("victims_bame", "Victims Black, Asian or racially minoritised", "%"),
    ("victims_lgbt", "Victims LGBT+", "%"),
    ("victims_disabled", "Victims disabled", "%"),
    ("victims_male", "Victims male", "%"),
    ("victims_16_17", "Victims aged 16 or 17", "%"),
]


@dataclass(frozen=True)
class Measure:
    code: str
    label: str
    unit: str
    value: float | None
    #: How many cases had no answer (diversity measures only).
    not_known: int = 0


@dataclass(frozen=True)
class Measures:
    cases: int
    #: Cases a year (a quarter's times four).
    cases_a_year: int
    measures: list[Measure]
    #: Cases a year the recommended volume expects, when the population is known.
    recommended_a_year: int | None
    #: FTE IDVAs and administrators for the current volume and the recommended one.
    idvas: float
    idvas_recommended: float | None
    admins: float
    admins_recommended: float | None

    def value(self, code: str) -> float | None:
        return next(m.value for m in self.measures if m.code == code)


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else 100 * part / whole


def derive(totals: Counter[str], *, quarters: int, population: int | None) -> Measures:
    """The measures over ``quarters`` quarters' totals (1 for a quarter, 4 for a year)."""
    cases = totals["cases_total"]
    a_year = cases * 4 // quarters
    recommended = None if not population else round(population * RECOMMENDED_PER_10K / 10_000)
    measures = [
        Measure(
            "cases_per_10k",
            NATIONAL_MEASURES[0][1],
            "per 10,000",
            None if not population else a_year * 10_000 / population,
        ),
        Measure("repeat_rate", NATIONAL_MEASURES[1][1], "%", _share(totals["cases_repeat"], cases)),
        Measure(
            "partner_share",
            NATIONAL_MEASURES[2][1],
            "%",
            _share(cases - totals["referrals_police"], cases),
        ),
    ]
    for code, label, unit in NATIONAL_MEASURES[3:]:
        measures.append(
            Measure(code, label, unit, _share(totals[code], cases), totals[code + codes.NOT_KNOWN])
        )
    return Measures(
        cases=cases,
        cases_a_year=a_year,
        measures=measures,
        recommended_a_year=recommended,
        idvas=a_year / CASES_PER_IDVA,
        idvas_recommended=None if recommended is None else recommended / CASES_PER_IDVA,
        admins=a_year / CASES_PER_ADMIN,
        admins_recommended=None if recommended is None else recommended / CASES_PER_ADMIN,
    )
