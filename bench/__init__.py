"""Benchmarks: `make bench` (python -m bench) runs them all; see bench/README.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def merge_results(path: Path, figures: dict[str, Any]) -> None:
    """Write ``figures`` into the results file, keeping the keys other runs wrote there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing = json.loads(path.read_text())
    except (OSError, ValueError):
        existing = {}
    existing.update(figures)
    path.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
