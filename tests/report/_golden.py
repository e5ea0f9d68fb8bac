"""Golden files: expected output kept under ``tests/golden/``.

To accept a deliberate change of a report, regenerate them and review the diff:

    PREFSYNC_REGENERATE_GOLDEN=1 pytest tests/report
    git diff tests/golden/
"""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent.parent / "golden"
REGENERATE = os.environ.get("PREFSYNC_REGENERATE_GOLDEN") == "1"


def assert_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing: run with PREFSYNC_REGENERATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    # Compare line lists so pytest shows a readable diff of the first change.
    assert actual.splitlines() == expected.splitlines(), (
        f"{name} differs from {path}; if the change is intended, regenerate with "
        "PREFSYNC_REGENERATE_GOLDEN=1 and review the diff"
    )
    assert actual == expected
