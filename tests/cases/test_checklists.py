"""Risk checklists: shipped data, scoring, bands, answer validation and professional judgement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cases import checklists as ck
from cases.checklists import (
    ANSWER_LABELS,
    ANSWERS,
    DATA_DIR,
    DEFAULT_CHECKLIST,
    Checklist,
    ChecklistError,
    band,
    get_checklist,
    judgement_check,
    load_checklists,
    score,
    validate_answers,
)

EXPECTED_SIZES = {"safelives-dash-24": 24, "police-dash-2009-27": 27, "stalking-addon-11": 11}


def _answers(checklist: Checklist, yes: int, rest: str = "no") -> dict[str, dict[str, str]]:
    """The first ``yes`` questions answered Yes, the others ``rest``."""
    return {q.id: {"answer": "yes" if n < yes else rest} for n, q in enumerate(checklist.questions)}


@pytest.fixture
def dash() -> Checklist:
    return get_checklist(DEFAULT_CHECKLIST)


# --- shipped data ---------------------------------------------------------------------------


def test_every_shipped_checklist_loads_with_the_expected_number_of_questions() -> None:
    checklists = load_checklists()
    assert {key: len(c.questions) for key, c in checklists.items()} == EXPECTED_SIZES
    assert DEFAULT_CHECKLIST == "safelives-dash-24"


@pytest.mark.parametrize("key", sorted(EXPECTED_SIZES))
def test_shipped_checklist_ids_are_unique_and_labels_short(key: str) -> None:
    checklist = load_checklists()[key]
    assert len(set(checklist.ids)) == len(checklist.ids)
    for question in checklist.questions:
        assert question.label.strip(), question.id
        assert len(question.label) <= 80, question.id
    assert "paraphrased" in checklist.source
    assert checklist.name and checklist.version


def test_shipped_ids_follow_the_stable_numbering() -> None:
    checklists = load_checklists()
    assert checklists["safelives-dash-24"].ids == tuple(f"q{n:02}" for n in range(1, 25))
    assert checklists["police-dash-2009-27"].ids == tuple(f"q{n:02}" for n in range(1, 28))
    assert checklists["stalking-addon-11"].ids == tuple(f"s{n:02}" for n in range(1, 12))


def test_shipped_files_are_read_once_and_callers_cannot_change_the_cache() -> None:
    first = load_checklists()
    first.pop(DEFAULT_CHECKLIST)
    assert DEFAULT_CHECKLIST in load_checklists()
    assert load_checklists()[DEFAULT_CHECKLIST] is get_checklist(DEFAULT_CHECKLIST)


def test_unknown_checklist_key_is_refused() -> None:
    with pytest.raises(ChecklistError, match="no risk checklist called 'dash-99'"):
        get_checklist("dash-99")


def test_answer_labels() -> None:
    assert ANSWERS == ("yes", "no", "dont_know")
    assert [ANSWER_LABELS[a] for a in ANSWERS] == ["Yes", "No", "Don't know"]
    assert ck.ANSWER_CHOICES == (("yes", "Yes"), ("no", "No"), ("dont_know", "Don't know"))


# --- malformed files ------------------------------------------------------------------------


def _good() -> dict[str, Any]:
    return {
        "key": "mini",
        "name": "Mini checklist",
        "version": "1",
        "source": "Written for the test",
        "questions": [
            {"id": "m01", "label": "First", "hint": "A hint", "group": "G"},
            {"id": "m02", "label": "Second"},
        ],
    }


def _write(folder: Path, data: Any, name: str = "mini.json") -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_a_well_formed_file_in_another_folder_loads(tmp_path: Path) -> None:
    _write(tmp_path, _good())
    mini = load_checklists(tmp_path)["mini"]
    assert mini.ids == ("m01", "m02")
    assert mini.questions[0].hint == "A hint" and mini.questions[1].hint == ""
    assert mini.number("m02") == 2


def test_an_area_can_add_a_checklist_beside_the_shipped_ones(tmp_path: Path) -> None:
    for path in DATA_DIR.glob("*.json"):
        shutil.copy(path, tmp_path)
    _write(tmp_path, _good())
    assert set(load_checklists(tmp_path)) == {*EXPECTED_SIZES, "mini"}


def _broken(**changes: Any) -> dict[str, Any]:
    data = _good()
    for name, value in changes.items():
        if value is None:
            del data[name]
        else:
            data[name] = value
    return data


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "must be a JSON object"),
        (_broken(colour="red"), "unknown field"),
        (_broken(name=None), "'name' is missing or empty"),
        (_broken(source="  "), "'source' is missing or empty"),
        (_broken(version=2), "'version' must be text"),
        (_broken(key="other"), "must match the file name 'mini'"),
        (_broken(questions=[]), "'questions' must be a non-empty list"),
        (
            _broken(questions=[{"id": "m01", "label": "A"}, {"id": "m01", "label": "B"}]),
            "question id 'm01' is used more than once",
        ),
        (_broken(questions=[{"id": "m01", "label": ""}]), "question 1: 'label' is missing"),
        (_broken(questions=[{"id": "m01"}]), "question 1: 'label' is missing"),
        (_broken(questions=[{"id": "m01", "label": "x" * 81}]), "longer than 80"),
        (_broken(questions=[{"id": "Q 1", "label": "A"}]), "id 'Q 1' must start with a letter"),
        (_broken(questions=[{"id": "m01", "label": "A", "text": "?"}]), "unknown field"),
        (_broken(questions=["m01"]), "question 1 must be a JSON object"),
    ],
)
def test_a_malformed_file_raises_an_error_naming_the_problem(
    tmp_path: Path, data: Any, problem: str
) -> None:
    _write(tmp_path, data)
    with pytest.raises(ChecklistError) as caught:
        load_checklists(tmp_path)
    assert problem in caught.value.message
    assert "mini.json" in caught.value.message


def test_an_empty_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ChecklistError, match=r"No checklist files"):
        load_checklists(tmp_path)


# --- scoring and bands ----------------------------------------------------------------------


def test_score_counts_only_yes(dash: Checklist) -> None:
    answers = _answers(dash, yes=5, rest="dont_know")
    answers["q24"] = {"answer": "no"}
    assert score(dash, answers) == 5
    assert score(dash, _answers(dash, yes=0, rest="dont_know")) == 0
    assert score(dash, _answers(dash, yes=24)) == 24
    assert score(dash, {}) == 0


def test_score_allows_unanswered_questions_in_a_draft(dash: Checklist) -> None:
    assert score(dash, {"q01": {"answer": "yes"}, "q02": {"answer": ""}, "q03": {}}) == 1


def test_score_refuses_unknown_questions_and_answers(dash: Checklist) -> None:
    with pytest.raises(ChecklistError, match="'q25' is not on the"):
        score(dash, {"q25": {"answer": "yes"}})
    with pytest.raises(ChecklistError, match="Question 3 has an answer"):
        score(dash, {"q03": {"answer": "maybe"}})
    with pytest.raises(ChecklistError, match="Question 3 has an answer"):
        score(dash, {"q03": {"answer": "Yes"}})  # values, not labels


def test_stalking_answers_are_scored_separately_from_the_dash() -> None:
    checklists = load_checklists()
    dash, stalking = checklists["safelives-dash-24"], checklists["stalking-addon-11"]
    assert score(dash, _answers(dash, yes=12)) == 12
    assert score(stalking, _answers(stalking, yes=11)) == 11
    # A stalking id is not a DASH question: the add-on cannot leak into the DASH score.
    with pytest.raises(ChecklistError):
        score(dash, {**_answers(dash, yes=12), "s01": {"answer": "yes"}})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "standard"), (9, "standard"), (10, "medium"), (13, "medium"), (14, "high"), (24, "high")],
)
def test_default_bands(value: int, expected: str) -> None:
    assert band(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(7, "standard"), (8, "medium"), (11, "medium"), (12, "high")],
)
def test_bands_follow_area_settings(value: int, expected: str) -> None:
    assert band(value, standard_max=7, medium_max=11) == expected


def test_band_refuses_nonsense() -> None:
    with pytest.raises(ChecklistError, match="negative"):
        band(-1)
    with pytest.raises(ChecklistError, match="inconsistent"):
        band(5, standard_max=13, medium_max=9)


# --- validation -----------------------------------------------------------------------------


def test_valid_answers_have_no_errors(dash: Checklist) -> None:
    answers = _answers(dash, yes=3, rest="dont_know")
    answers["q02"] = {"answer": "no", "source": "Told by the victim's sister"}
    assert validate_answers(dash, answers, complete=True) == {}


def test_bad_answer_message_names_the_question_number(dash: Checklist) -> None:
    errors = validate_answers(dash, {"q05": {"answer": "perhaps"}, "q06": "yes"})  # type: ignore[dict-item]
    assert errors == {
        "q05": "Answer question 5: Yes, No or Don't know",
        "q06": "Answer question 6: Yes, No or Don't know",
    }


def test_a_draft_may_be_partial_but_a_complete_form_may_not(dash: Checklist) -> None:
    partial = {"q01": {"answer": "yes"}, "q02": {"answer": ""}}
    assert validate_answers(dash, partial) == {}
    errors = validate_answers(dash, partial, complete=True)
    assert set(errors) == set(dash.ids) - {"q01"}
    assert errors["q02"] == "Answer question 2: Yes, No or Don't know"
    assert errors["q24"] == "Answer question 24: Yes, No or Don't know"


def test_source_is_optional_and_at_most_200_characters(dash: Checklist) -> None:
    assert validate_answers(dash, {"q01": {"answer": "yes", "source": "x" * 200}}) == {}
    errors = validate_answers(dash, {"q01": {"answer": "yes", "source": "x" * 201}})
    assert errors == {"q01": "The source for question 1 must be 200 characters or fewer"}


def test_unknown_questions_and_fields_are_reported(dash: Checklist) -> None:
    errors = validate_answers(
        dash, {"s01": {"answer": "yes"}, "q04": {"answer": "no", "note": "x"}}
    )
    assert errors == {
        "s01": "Question s01 is not on this checklist",
        "q04": "Question 4 has unexpected field(s): note",
    }


# --- professional judgement -----------------------------------------------------------------


def test_judgement_without_reasons_is_refused() -> None:
    message = judgement_check(9, True, "   ")
    assert message == "Write down your reasons for referring on professional judgement"


def test_judgement_raising_a_case_below_14_with_reasons_is_allowed() -> None:
    assert judgement_check(9, True, "Non-fatal strangulation and recent separation") is None


def test_no_judgement_needs_no_reasons() -> None:
    assert judgement_check(15, False, "") is None


@pytest.mark.parametrize("value", [14, 20, 3])
def test_judgement_can_never_lower_a_case(value: int) -> None:
    message = judgement_check(value, True, "Victim says it is not that bad", downgrade=True)
    assert message == (
        "Professional judgement can raise a case to MARAC but never lower one with "
        "14 or more Yes answers"
    )


def test_downgrade_message_uses_the_area_threshold() -> None:
    message = judgement_check(16, True, "Reasons", high_risk_threshold=15, downgrade=True)
    assert message is not None and "15 or more Yes answers" in message
