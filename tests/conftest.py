"""Small shared helpers for the stage tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

from prefsync_audit.load import ROW, RawTable
from prefsync_audit.mapping import Mapping

#: The least a mapping needs; tests override the parts they exercise.
BASE_MAPPING: dict[str, Any] = {
    "identifiers": {"email": {"column": "Email"}},
    "preferences": [{"purpose": "marketing", "channel": "email", "state": "denied"}],
}


#: The benchmark scripts, which some tests load as modules.
BENCH = Path(__file__).parent.parent / "bench"


@pytest.fixture(scope="session")
def bench_script():
    """``bench_script("run_benchmark")`` → that script of ``bench/`` as a module."""

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


@pytest.fixture
def make_mapping():
    """``make_mapping(**overrides)`` → a validated :class:`Mapping`."""

    def make(**overrides: Any) -> Mapping:
        return Mapping.model_validate({**BASE_MAPPING, **overrides})

    return make


@pytest.fixture
def raw_table():
    """``raw_table(rows)`` → a :class:`RawTable` of text rows numbered 1..n."""

    def make(rows: list[dict[str, Any]], columns: list[str] | None = None) -> RawTable:
        frame = pd.DataFrame(rows, columns=columns, dtype="object")
        frame = frame.where(frame.notna(), None)
        frame.insert(0, ROW, pd.Series(range(1, len(frame) + 1), dtype="int64"))
        return RawTable("crm", Path("crm.csv"), "0" * 64, frame, len(frame))

    return make
