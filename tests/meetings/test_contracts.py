"""The conference pages reach case content only through the presenters: the views import no
models (a contract lint-imports checks, and which bites), and no template reads an agenda line,
a case or the meeting's list of cases itself."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _meetings_contract() -> dict:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(
        c for c in contracts["contracts"] if "meetings.views" in c.get("source_modules", [])
    )


def test_the_meetings_views_may_not_import_the_models() -> None:
    contract = _meetings_contract()
    assert contract["type"] == "forbidden"
    assert set(contract["forbidden_modules"]) == {
        "meetings.models",
        "cases.models",
        "consent.models",
    }
    result = subprocess.run([str(LINT)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{contract['name']} KEPT" in " ".join(result.stdout.split())


def test_the_contract_fails_when_a_meetings_view_imports_a_model(tmp_path: Path) -> None:
    contract = _meetings_contract()
    for package in ("meetings", "hub", "cases", "consent"):
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    for module in contract["forbidden_modules"]:
        tmp_path.joinpath(*module.split(".")).with_suffix(".py").write_text("class Row: ...\n")
    (tmp_path / "meetings" / "views.py").write_text("from meetings.models import Row\n")
    forbidden = ", ".join(f'"{m}"' for m in contract["forbidden_modules"])
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["meetings", "hub", "cases", "consent"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "pages"\ntype = "forbidden"\n'
        f'source_modules = ["meetings.views"]\nforbidden_modules = [{forbidden}]\n'
        "allow_indirect_imports = true\n"
    )
    result = subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "meetings.views -> meetings.models" in result.stdout


#: What a conference template must never read itself: an agenda line or a case row (their
#: content reaches a page only as a presenter's row), or the meeting's list of cases (it
#: holds cases the reader may not know; the rows handed to the page are already filtered).
ROW_READS = re.compile(r"\b(item|referral)\.[a-z_]+|\bmeeting\.items\b")


def row_reads(templates: dict[str, str]) -> list[str]:
    return [
        f"{name}: {match.group(0)}"
        for name, source in templates.items()
        for match in ROW_READS.finditer(source)
    ]


def test_no_conference_template_reads_a_case_row() -> None:
    templates = {
        str(path.relative_to(ROOT)): path.read_text()
        for path in (ROOT / "meetings" / "templates").rglob("*.html")
    }
    assert len(templates) >= 10
    assert row_reads(templates) == []


def test_the_template_check_catches_a_page_that_reads_an_agenda_line() -> None:
    bad = {"meeting.html": "{{ meeting.items | length }} {{ item.late_reason }} {{ row.number }}"}
    assert sorted(row_reads(bad)) == [
        "meeting.html: item.late_reason",
        "meeting.html: meeting.items",
    ]
