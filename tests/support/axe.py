"""axe-core, the accessibility engine, run in the page a browser test is looking at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

#: WCAG 2.2 A and AA, the level the Public Sector Bodies Accessibility Regulations require.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def violations(page: Any) -> list[str]:
    """What axe finds wrong with the page as it is now: one line per rule and element."""
    assert AXE.exists(), "axe-core is missing: `make install` installs it from package.json"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(r => r.violations.map(v => [v.id, v.help, v.nodes.map(n => n.target.join(' '))]))",
        TAGS,
    )
    return [f"{rule}: {help_} at {', '.join(nodes)}" for rule, help_, nodes in found]


def assert_accessible(page: Any) -> None:
    found = violations(page)
    assert not found, f"{page.url}:\n" + "\n".join(found)
