"""Risk checklists as data: the questions live in ``data/*.json``, the rules live here.

The DASH wording is copyrighted, so every shipped checklist holds the hub's own short
paraphrase of each question's subject, and says so in its ``source``. An area can add or
replace a checklist by adding a JSON file; nothing in the code names a question.

Answers are stored as ``{question id: {"answer": "yes" | "no" | "dont_know", "source": "..."}}``
(``RiskAssessment.answers``). Only "yes" counts towards the score, and each checklist is scored
on its own: the stalking add-on never adds to the DASH score. An answer of ``""`` (or no
``"answer"`` key) means "not answered yet", which a draft may contain.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from hub.core.errors import HubError

__all__ = [
    "ANSWERS",
    "ANSWER_CHOICES",
    "ANSWER_LABELS",
    "DATA_DIR",
    "DEFAULT_CHECKLIST",
    "MAX_LABEL_LENGTH",
    "MAX_SOURCE_LENGTH",
    "Band",
    "Checklist",
    "ChecklistError",
    "Question",
    "band",
    "get_checklist",
    "judgement_check",
    "load_checklists",
    "score",
    "validate_answers",
]

DATA_DIR = Path(__file__).parent / "data"
DEFAULT_CHECKLIST = "safelives-dash-24"

ANSWERS: tuple[str, ...] = ("yes", "no", "dont_know")
ANSWER_LABELS: Mapping[str, str] = {"yes": "Yes", "no": "No", "dont_know": "Don't know"}
#: (value, label) pairs in display order, ready for radio buttons.
ANSWER_CHOICES: tuple[tuple[str, str], ...] = tuple((a, ANSWER_LABELS[a]) for a in ANSWERS)

MAX_LABEL_LENGTH = 80
MAX_HINT_LENGTH = 200
#: The "source if not the victim" note recorded beside an answer.
MAX_SOURCE_LENGTH = 200
HIGH_RISK_THRESHOLD = 14

Band = Literal["standard", "medium", "high"]

_CHECKLIST_FIELDS = frozenset({"key", "name", "version", "source", "questions", "kind"})
#: A main checklist gives the score that decides visible high risk; an add-on is answered
#: beside one and scored on its own.
KINDS = ("main", "addon")
_QUESTION_FIELDS = frozenset({"id", "label", "hint", "group"})
_ANSWER_FIELDS = frozenset({"answer", "source"})
_KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*\Z")


class ChecklistError(HubError):
    """A checklist file is malformed, or answers do not fit the checklist."""

    status = 422
    title = "Risk checklist problem"


@dataclass(frozen=True)
class Question:
    id: str
    label: str
    hint: str = ""
    group: str = ""


@dataclass(frozen=True)
class Checklist:
    key: str
    name: str
    version: str
    source: str
    questions: tuple[Question, ...]
    kind: str = "main"

    @property
    def is_addon(self) -> bool:
        return self.kind == "addon"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(q.id for q in self.questions)

    def number(self, question_id: str) -> int:
        """Return the question's 1-based position, as people refer to it ("question 5")."""
        for position, question in enumerate(self.questions, start=1):
            if question.id == question_id:
                return position
        raise ChecklistError(f"Question {question_id!r} is not on the {self.name} checklist")

    def question(self, question_id: str) -> Question:
        return self.questions[self.number(question_id) - 1]


# --- loading -------------------------------------------------------------------------------


def load_checklists(directory: Path | None = None) -> dict[str, Checklist]:
    """Return every checklist by key. The shipped set is read once and cached.

    ``directory`` lets tests (and areas with their own set) load another folder; that is read
    afresh on every call.
    """
    if directory is None:
        return dict(_load_shipped())
    return _load_directory(directory)


def get_checklist(key: str, directory: Path | None = None) -> Checklist:
    checklists = load_checklists(directory)
    try:
        return checklists[key]
    except KeyError:
        raise ChecklistError(f"There is no risk checklist called {key!r}") from None


@cache
def _load_shipped() -> dict[str, Checklist]:
    checklists = _load_directory(DATA_DIR)
    if DEFAULT_CHECKLIST not in checklists:
        raise ChecklistError(f"The default checklist {DEFAULT_CHECKLIST!r} is missing")
    return checklists


def _load_directory(directory: Path) -> dict[str, Checklist]:
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise ChecklistError(f"No checklist files (*.json) in {directory}")
    checklists = [_load_file(path) for path in paths]
    return {checklist.key: checklist for checklist in checklists}


def _load_file(path: Path) -> Checklist:
    where = f"Checklist file {path.name}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ChecklistError(
            f"{where} is not valid JSON (line {error.lineno}, column {error.colno}): {error.msg}"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ChecklistError(f"{where} cannot be read: {error}") from None
    return _parse_checklist(data, where=where, expected_key=path.stem)


def _parse_checklist(data: Any, *, where: str, expected_key: str) -> Checklist:
    fields = _fields(data, allowed=_CHECKLIST_FIELDS, where=where)
    key = _text(fields, "key", where=where)
    if not _KEY_PATTERN.match(key):
        raise ChecklistError(f"{where}: key {key!r} must be lower-case letters, digits and -")
    if key != expected_key:
        raise ChecklistError(f"{where}: key {key!r} must match the file name {expected_key!r}")
    raw_questions = fields.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise ChecklistError(f"{where}: 'questions' must be a non-empty list")
    questions = tuple(
        _parse_question(raw, where=f"{where}, question {n}")
        for n, raw in enumerate(raw_questions, start=1)
    )
    seen: set[str] = set()
    for question in questions:
        if question.id in seen:
            raise ChecklistError(f"{where}: question id {question.id!r} is used more than once")
        seen.add(question.id)
    kind = fields.get("kind", "main")
    if kind not in KINDS:
        raise ChecklistError(f"{where}: kind must be one of {', '.join(KINDS)}")
    return Checklist(
        key=key,
        name=_text(fields, "name", where=where),
        version=_text(fields, "version", where=where),
        source=_text(fields, "source", where=where),
        questions=questions,
        kind=kind,
    )


def _parse_question(data: Any, *, where: str) -> Question:
    fields = _fields(data, allowed=_QUESTION_FIELDS, where=where)
    question_id = _text(fields, "id", where=where)
    if not _ID_PATTERN.match(question_id):
        raise ChecklistError(
            f"{where}: id {question_id!r} must start with a letter and use a-z, 0-9 and _"
        )
    label = _text(fields, "label", where=where, max_length=MAX_LABEL_LENGTH)
    hint = _text(fields, "hint", where=where, required=False, max_length=MAX_HINT_LENGTH)
    group = _text(fields, "group", where=where, required=False, max_length=MAX_LABEL_LENGTH)
    return Question(id=question_id, label=label, hint=hint, group=group)


def _fields(data: Any, *, allowed: frozenset[str], where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ChecklistError(f"{where} must be a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ChecklistError(f"{where} has unknown field(s): {', '.join(unknown)}")
    return data


def _text(
    fields: Mapping[str, Any],
    name: str,
    *,
    where: str,
    required: bool = True,
    max_length: int | None = None,
) -> str:
    value = fields.get(name, "")
    if not isinstance(value, str):
        raise ChecklistError(f"{where}: {name!r} must be text")
    value = value.strip()
    if required and not value:
        raise ChecklistError(f"{where}: {name!r} is missing or empty")
    if max_length is not None and len(value) > max_length:
        raise ChecklistError(f"{where}: {name!r} is longer than {max_length} characters")
    return value


# --- answers and scoring -------------------------------------------------------------------


def score(checklist: Checklist, answers: Mapping[str, Mapping[str, str]]) -> int:
    """Count the Yes answers. Unknown questions or answers raise ``ChecklistError``."""
    total = 0
    for question_id, entry in answers.items():
        number = checklist.number(question_id)  # raises for a question not on the checklist
        answer = _answer(entry)
        if answer is None:
            raise ChecklistError(
                f"Question {number} has an answer that is not Yes, No or Don't know"
            )
        total += answer == "yes"
    return total


def band(score: int, *, standard_max: int = 9, medium_max: int = 13) -> Band:
    """Return the risk band for a score. The limits are area settings (0-9, 10-13, 14+)."""
    if score < 0:
        raise ChecklistError(f"A score cannot be negative (got {score})")
    if not 0 <= standard_max < medium_max:
        raise ChecklistError(
            f"Band settings are inconsistent: standard up to {standard_max}, "
            f"medium up to {medium_max}"
        )
    if score <= standard_max:
        return "standard"
    if score <= medium_max:
        return "medium"
    return "high"


def validate_answers(
    checklist: Checklist, answers: Mapping[str, Mapping[str, str]], *, complete: bool = False
) -> dict[str, str]:
    """Return plain-English errors keyed by question id; empty when the answers are fine.

    A draft may leave questions unanswered; pass ``complete=True`` when submitting, and every
    question then needs Yes, No or Don't know.
    """
    errors: dict[str, str] = {}
    known = set(checklist.ids)
    for question_id, entry in answers.items():
        if question_id not in known:
            errors[question_id] = f"Question {question_id} is not on this checklist"
            continue
        message = _entry_error(checklist.number(question_id), entry)
        if message:
            errors[question_id] = message
    if complete:
        for number, question in enumerate(checklist.questions, start=1):
            if question.id not in errors and _answer(answers.get(question.id)) == "":
                errors[question.id] = _answer_message(number)
    return errors


def _answer_message(number: int) -> str:
    return f"Answer question {number}: Yes, No or Don't know"


def _answer(entry: object) -> str | None:
    """Return the answer ("" when unanswered), or None when the entry is malformed."""
    if entry is None:
        return ""
    if not isinstance(entry, Mapping):
        return None
    answer = entry.get("answer", "")
    if answer == "" or answer in ANSWERS:
        return str(answer)
    return None


def _entry_error(number: int, entry: object) -> str | None:
    if _answer(entry) is None or not isinstance(entry, Mapping):
        return _answer_message(number)
    unknown = sorted(str(name) for name in set(entry) - _ANSWER_FIELDS)
    if unknown:
        return f"Question {number} has unexpected field(s): {', '.join(unknown)}"
    source = entry.get("source", "")
    if not isinstance(source, str):
        return f"The source for question {number} must be text"
    if len(source) > MAX_SOURCE_LENGTH:
        return f"The source for question {number} must be {MAX_SOURCE_LENGTH} characters or fewer"
    return None


# --- professional judgement ----------------------------------------------------------------


def judgement_check(
    score: int,
    professional_judgement: bool,
    reasons: str,
    *,
    high_risk_threshold: int = HIGH_RISK_THRESHOLD,
    downgrade: bool = False,
) -> str | None:
    """Return why a professional-judgement decision is refused, or None when it stands.

    Judgement can refer a case below the threshold, with written reasons. It can never lower
    a case: ``downgrade=True`` ("do not treat as high risk despite the Yes answers") is always
    refused, whatever the score, because no downgrade route exists.
    """
    if downgrade:
        return (
            "Professional judgement can raise a case to MARAC but never lower one with "
            f"{high_risk_threshold} or more Yes answers"
        )
    if professional_judgement and not reasons.strip():
        return "Write down your reasons for referring on professional judgement"
    return None


def offered(extra: Iterable[str]) -> tuple[list[Checklist], list[Checklist]]:
    """The main checklists and add-ons an area offers: the default, and those it enabled."""
    everything = load_checklists()
    keys = [DEFAULT_CHECKLIST, *[k for k in extra if k != DEFAULT_CHECKLIST]]
    chosen = [everything[k] for k in keys if k in everything]
    return [c for c in chosen if not c.is_addon], [c for c in chosen if c.is_addon]
