"""The kernel's contracts: one-way imports, and every route declaring its access."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from flask import Flask

from hub.core.access import Permission
from hub.core.routes import declared_access, public, require

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _contract() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def test_import_order_contract_is_kept() -> None:
    result = subprocess.run(
        [str(LINT), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " kept, 0 broken" in result.stdout


def test_import_order_contract_fails_when_a_lower_package_imports_a_higher_one(
    tmp_path: Path,
) -> None:
    # A miniature copy of the layout, one package per name in the contract, where the
    # kernel reaches up into agencies.
    for layer in _contract()["contracts"][0]["layers"]:
        for name in layer.replace("|", ":").split(":"):
            folder = tmp_path.joinpath(*name.strip().split("."))
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "__init__.py").write_text("")
    (tmp_path / "hub" / "__init__.py").write_text("")
    (tmp_path / "agencies" / "models.py").write_text("X = 1\n")
    (tmp_path / "hub" / "core" / "db.py").write_text("import agencies.models\n")
    contract = _contract()
    layers = ",\n".join(f'    "{layer}"' for layer in contract["contracts"][0]["layers"])
    roots = ", ".join(f'"{r}"' for r in contract["root_packages"])
    (tmp_path / "pyproject.toml").write_text(
        f"[tool.importlinter]\nroot_packages = [{roots}]\n\n"
        f'[[tool.importlinter.contracts]]\nname = "one way"\ntype = "layers"\n'
        f"layers = [\n{layers}\n]\n"
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
    assert "hub.core.db -> agencies.models" in result.stdout


def test_every_hub_module_sits_in_a_layer() -> None:
    """A new top-level module under hub/ must be placed in the contract, or it is unchecked."""
    layered = {
        m.strip()
        for layer in _contract()["contracts"][0]["layers"]
        for m in layer.replace("|", ":").split(":")
    }
    found = {
        f"hub.{p.stem}"
        for p in (ROOT / "hub").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__")
        or (p.is_dir() and (p / "__init__.py").exists())
    }
    assert found <= layered, f"not in any layer: {sorted(found - layered)}"


@pytest.mark.parametrize(
    "package",
    [
        "hub",
        "audit",
        "agencies",
        "consent",
        "cases",
        "meetings",
        "todo",
        "returns",
        "subject_access",
        "transfers",
        "retention",
    ],
)
def test_packages_import_from_this_repository(package: str) -> None:
    """These names are also PyPI projects; ours must never be shadowed by one."""
    module = importlib.import_module(package)
    assert Path(module.__file__ or "").resolve().is_relative_to(ROOT)


def undeclared_routes(app: Flask) -> list[str]:
    return sorted(
        endpoint for endpoint, view in app.view_functions.items() if declared_access(view) is None
    )


def test_every_route_declares_its_access(app: Flask) -> None:
    assert undeclared_routes(app) == []
    assert len(app.view_functions) > 10


def test_route_check_notices_an_undeclared_route(app: Flask) -> None:
    @app.route("/forgotten-declaration")
    def forgotten() -> str:
        return "oops"

    assert undeclared_routes(app) == ["forgotten"]


def test_access_is_declared_once_only() -> None:
    def view() -> str:
        return ""

    with pytest.raises(TypeError):
        require(Permission.AUDIT_READ)(public(view))
    with pytest.raises(TypeError):
        public(require(Permission.AUDIT_READ)(view))


def test_a_route_added_without_declaration_is_caught_in_source_too() -> None:
    """Static check: each @...route( is followed by @require, @require_scope or @public."""
    offenders = []
    for path in [*ROOT.glob("hub/**/*.py"), *ROOT.glob("*/views.py"), *ROOT.glob("*/api.py")]:
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if line.lstrip().startswith("@") and ".route(" in line:
                following = "\n".join(lines[number + 1 : number + 3])
                if not any(
                    mark in following for mark in ("@require(", "@require_scope(", "@public")
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{number + 1}")
    assert offenders == [], textwrap.shorten(str(offenders), 300)


def test_a_view_importing_case_models_breaks_the_gate_contract(tmp_path: Path) -> None:
    """A page that loads referral rows itself (skipping the gate's case file) fails the suite."""
    contract = next(c for c in _contract()["contracts"] if c["type"] == "forbidden")
    for package in ("hub", "cases", "consent"):
        (tmp_path / package).mkdir(parents=True, exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "consent" / "models.py").write_text("")
    for module in contract["source_modules"]:
        tmp_path.joinpath(*module.split(".")).with_suffix(".py").write_text("")
    (tmp_path / "cases" / "models.py").write_text("class Referral: ...\n")
    (tmp_path / "cases" / "views.py").write_text("from cases.models import Referral\n")
    sources = ", ".join(f'"{m}"' for m in contract["source_modules"])
    forbidden = ", ".join(f'"{m}"' for m in contract["forbidden_modules"])
    (tmp_path / "pyproject.toml").write_text(
        '[tool.importlinter]\nroot_packages = ["hub", "cases", "consent"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "gate"\ntype = "forbidden"\n'
        f"source_modules = [{sources}]\nforbidden_modules = [{forbidden}]\n"
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
    assert "cases.views -> cases.models" in result.stdout


#: What a template may read straight off a referral row: identifiers and workflow state,
#: never case content (that reaches a page only through the gate's case file view).
REFERRAL_ATTRIBUTES_ALLOWED_IN_TEMPLATES = frozenset(
    {"id", "reference", "status", "version", "counter_allegation_id", "previous_referral_id"}
)


def referral_content_read_by_templates(templates: dict[str, str]) -> list[str]:
    """Every ``referral.<attribute>`` a template reads beyond the allowed identifiers."""
    found = []
    for name, source in templates.items():
        for match in re.finditer(r"\breferral\.([a-z_]+)", source):
            if match.group(1) not in REFERRAL_ATTRIBUTES_ALLOWED_IN_TEMPLATES:
                found.append(f"{name}: referral.{match.group(1)}")
    return found


def _all_templates() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text()
        for package in (
            "hub",
            "agencies",
            "audit",
            "consent",
            "cases",
            "meetings",
            "todo",
            "returns",
            "subject_access",
            "transfers",
            "retention",
        )
        for path in (ROOT / package).rglob("templates/**/*.html")
    }


def test_no_template_reads_case_content_off_a_referral_row() -> None:
    templates = _all_templates()
    assert len(templates) > 20  # the scan sees the real templates
    assert referral_content_read_by_templates(templates) == []


def test_the_template_check_catches_a_page_that_shows_the_victim_directly() -> None:
    bad = {"case.html": "<h1>{{ referral.victim.display_name }}</h1> {{ referral.reference }}"}
    assert referral_content_read_by_templates(bad) == ["case.html: referral.victim"]
