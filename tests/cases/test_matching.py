"""Person matching (search before create, repeat detection) and the 12-month repeat window."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cases.matching import (
    MatchInput,
    match_key,
    match_key_pattern,
    name_keys,
    normalise_name,
    repeat_window_ends_on,
    score_match,
    within_repeat_window,
)

BORN = date(1990, 5, 17)


def person(given: str = "Jane", family: str = "Smith", **kwargs: object) -> MatchInput:
    return MatchInput(given=given, family=family, **kwargs)  # type: ignore[arg-type]


# --- normalising ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zoë", "zoe"),
        ("JOSÉ NÚÑEZ", "jose nunez"),
        ("  Mrs   Jane\tSMITH ", "jane smith"),
        ("Dr. Ana-María López", "ana maria lopez"),
        ("Mr Mr Bean", "bean"),
        ("Miss", ""),
        ("O'Brien", "obrien"),
        ("O’Brien", "obrien"),
        ("Søren", "soren"),
        ("Straße", "strasse"),
        ("", ""),
    ],
)
def test_normalise_name(text: str, expected: str) -> None:
    assert normalise_name(text) == expected


def test_honorifics_are_dropped_only_at_the_start() -> None:
    # A title is not a name, but a name that happens to spell one later on is kept.
    assert normalise_name("Jane Miss") == "jane miss"


@given(st.text())
def test_normalise_name_is_idempotent(text: str) -> None:
    once = normalise_name(text)
    assert normalise_name(once) == once


# --- keys -----------------------------------------------------------------------------------


def test_name_keys_cover_the_name_each_alias_and_initials() -> None:
    keys = name_keys("Jane", "Smith", "Janey Brown\nJo\n\n  ")
    assert keys == {"jane smith", "j smith", "janey brown", "j brown", "jo smith"}


def test_name_keys_keep_a_double_barrelled_family_name_whole_in_an_alias() -> None:
    keys = name_keys("Anna", "Smith-Jones", "Annie Smith Jones")
    assert "annie smith jones" in keys and "a smith jones" in keys
    assert "a jones" not in keys


def test_a_name_without_both_parts_makes_no_key() -> None:
    assert name_keys("", "Smith") == set()
    assert name_keys("Mrs", "Smith") == set()
    assert match_key("", "") == ""


def test_match_key_is_stable_sorted_and_searchable() -> None:
    key = match_key("Jane", "Smith", "Janey Brown")
    assert key == " j+brown j+smith jane+smith janey+brown "
    assert match_key("JANE", " smith ", "Janey  BROWN") == key
    # Whole keys only: "jane smith" must not be found inside "mary jane smith".
    assert match_key_pattern("jane smith") == "% jane+smith %"
    assert " jane+smith " not in match_key("Mary Jane", "Smith")


# --- score_match ----------------------------------------------------------------------------


def test_accents_case_and_titles_do_not_stop_a_strong_match() -> None:
    result = score_match(
        person("Zoë", "NÚÑEZ", born_on=BORN), person("Ms zoe", "nunez", born_on=BORN)
    )
    assert result.level == "strong"
    assert result.reasons == ["same name", "same date of birth"]


def test_an_alias_matching_the_name_with_same_date_of_birth_is_strong() -> None:
    candidate = person("Jane", "Smith", aliases="Janey Brown", born_on=BORN)
    result = score_match(candidate, person("Janey", "Brown", born_on=BORN))
    assert result.level == "strong"
    assert "alias matches" in result.reasons


def test_same_name_with_no_date_of_birth_on_one_side_is_possible() -> None:
    result = score_match(person(born_on=BORN), person())
    assert result.level == "possible"
    assert "date of birth missing on one record" in result.reasons
    assert score_match(person(), person()).level == "possible"


def test_same_name_with_a_different_date_of_birth_is_not_a_match() -> None:
    result = score_match(person(born_on=BORN), person(born_on=date(1991, 5, 17)))
    assert result.level == "none"
    assert "different date of birth" in result.reasons


def test_same_family_name_and_initial_with_same_date_of_birth_is_possible() -> None:
    result = score_match(person("Jane", "Smith", born_on=BORN), person("J.", "Smith", born_on=BORN))
    assert result.level == "possible"
    assert result.reasons == ["same family name and first initial", "same date of birth"]


def test_same_family_name_and_initial_without_a_shared_date_is_not_a_match() -> None:
    assert (
        score_match(person("Jane", "Smith", born_on=BORN), person("Joan", "Smith")).level == "none"
    )


def test_different_people_do_not_match() -> None:
    result = score_match(
        person("Jane", "Smith", born_on=BORN), person("Mary", "Jones", born_on=BORN)
    )
    assert result.level == "none"


def test_same_nhs_number_is_strong_even_with_different_names() -> None:
    result = score_match(
        person("Jane", "Smith", nhs_number="943 476 5919"),
        person("Janet", "Brown", nhs_number="9434765919"),
    )
    assert result.level == "strong"
    assert "same NHS number" in result.reasons


def test_same_police_person_id_is_strong() -> None:
    result = score_match(
        person("Jane", "Smith", police_person_id="12/345678a"),
        person("J", "Brown", police_person_id="12/345678A"),
    )
    assert result.level == "strong"
    assert "same police person id" in result.reasons


def test_a_different_nhs_number_overrides_identical_names_and_dates() -> None:
    result = score_match(
        person(born_on=BORN, nhs_number="9434765919"),
        person(born_on=BORN, nhs_number="9434765870"),
    )
    assert result.level == "none"
    assert "different NHS numbers" in result.reasons


def test_contradicting_identifiers_are_left_for_a_person_to_check() -> None:
    result = score_match(
        person(nhs_number="9434765919", police_person_id="P1"),
        person("Mary", "Jones", nhs_number="9434765870", police_person_id="P1"),
    )
    assert result.level == "possible"


def test_an_nhs_number_on_one_side_only_does_not_decide() -> None:
    assert (
        score_match(person(born_on=BORN, nhs_number="9434765919"), person(born_on=BORN)).level
        == "strong"
    )


names = st.sampled_from(["Jane", "Jan", "Zoë", "Zoe", "J", "Mrs Jane", ""])
families = st.sampled_from(["Smith", "SMITH", "Smith-Jones", "Núñez", "Nunez", ""])
aliases = st.sampled_from(["", "Janey Brown", "Jo", "Zoe Smith\nJ Nunez", "Jane Smith-Jones"])
dates = st.sampled_from([None, BORN, date(1991, 5, 17)])
ids = st.sampled_from(["", "9434765919", "9434765870"])
police = st.sampled_from(["", "P1", "P2"])
inputs = st.builds(
    MatchInput,
    given=names,
    family=families,
    aliases=aliases,
    born_on=dates,
    nhs_number=ids,
    police_person_id=police,
)


@given(inputs, inputs)
def test_score_match_is_symmetric_in_level(a: MatchInput, b: MatchInput) -> None:
    assert score_match(a, b).level == score_match(b, a).level


@given(inputs)
def test_a_record_with_a_name_always_matches_itself(a: MatchInput) -> None:
    level = score_match(a, a).level
    if (
        a.nhs_number
        or a.police_person_id
        or (a.born_on and name_keys(a.given, a.family, a.aliases))
    ):
        assert level == "strong"


# --- repeat window --------------------------------------------------------------------------

LAST = date(2025, 3, 15)


def test_eleven_months_later_is_a_repeat() -> None:
    assert within_repeat_window(LAST, date(2026, 2, 15)) is True


def test_thirteen_months_later_is_a_new_referral() -> None:
    assert within_repeat_window(LAST, date(2026, 4, 15)) is False


def test_the_anniversary_is_still_a_repeat_and_the_day_after_is_new() -> None:
    assert repeat_window_ends_on(LAST) == date(2026, 3, 15)
    assert within_repeat_window(LAST, date(2026, 3, 15)) is True
    assert within_repeat_window(LAST, date(2026, 3, 16)) is False


def test_a_29_february_referral_ends_its_window_on_28_february() -> None:
    leap = date(2024, 2, 29)
    assert repeat_window_ends_on(leap) == date(2025, 2, 28)
    assert within_repeat_window(leap, date(2025, 2, 28)) is True
    assert within_repeat_window(leap, date(2025, 3, 1)) is False


def test_same_day_and_month_ends_are_handled() -> None:
    assert within_repeat_window(LAST, LAST) is True
    assert repeat_window_ends_on(date(2024, 12, 31)) == date(2025, 12, 31)
    assert repeat_window_ends_on(date(2025, 1, 31), months=1) == date(2025, 2, 28)


def test_the_window_length_is_an_area_setting() -> None:
    assert within_repeat_window(LAST, date(2026, 9, 1), months=18) is True
    with pytest.raises(ValueError, match="at least one month"):
        repeat_window_ends_on(LAST, months=0)


def test_a_date_before_the_last_referral_is_outside_the_window() -> None:
    assert within_repeat_window(LAST, date(2025, 3, 14)) is False
