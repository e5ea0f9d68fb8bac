"""The benchmark script's summary of repeated rounds (its measurements are not tested)."""

from __future__ import annotations

import pytest


@pytest.fixture
def bench(bench_script):
    return bench_script("run_benchmark")


def test_median_run_is_the_middle_finished_run(bench):
    runs = [{"seconds": 50.0, "n": 1}, {"error": "timeout"}, {"seconds": 40.0, "n": 2}]
    assert bench.median_run(runs)["n"] == 2  # the faster middle one of 40 and 50
    runs.append({"seconds": 45.0, "n": 3})
    assert bench.median_run(runs)["n"] == 3
    assert bench.median_run([{"error": "failed"}]) == {"error": "failed"}


def test_fastest_read_run(bench):
    assert bench.fastest_run([{"seconds": 2.0}, {"error": "x"}, {"seconds": 1.5}]) == {
        "seconds": 1.5
    }


def test_round_ratios_pair_the_runs_of_each_round(bench):
    results = [
        {"size": 1_000_000, "audit_runs": [{"seconds": 40.0}, {"seconds": 50.0}]},
        {"size": 5_000_000, "audit_runs": [{"seconds": 200.0}, {"error": "timeout"}]},
    ]
    assert bench.round_ratios(results, 1_000_000, 5_000_000) == [5.0]
    assert bench.round_ratios(results[:1], 1_000_000, 5_000_000) == []
    summary = bench.targets(
        [
            {**results[0], "audit": {"seconds": 40.0, "peak_rss_gib": 3.0}, "read_only": {}},
            {**results[1], "audit": {"seconds": 200.0}, "read_only": {}},
        ]
    )
    assert "5M / 1M time 5.00× (target ≤ 5.5×)" in summary
    assert "1,000,000: audit runs 40.0, 50.0 s (median 40.0)" in summary


def test_scenarios_are_generated_in_a_child_process(bench, tmp_path, monkeypatch):
    # A generation in the script's own process would raise the peak RSS that
    # every later child reports (Linux keeps it across exec).
    commands = []
    real_run = bench.subprocess.run

    def recording_run(command, **kwargs):
        commands.append(command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(bench.subprocess, "run", recording_run)
    folder, seconds = bench.ensure_scenario(tmp_path, 40, 3, "csv")
    assert [c[1:4] for c in commands] == [["-m", "prefsync_audit", "generate"]]
    assert (folder / "audit.yaml").is_file() and (folder / "truth.json").is_file()
    assert seconds > 0
    # A scenario in the cache is reused.
    assert bench.ensure_scenario(tmp_path, 40, 3, "csv") == (folder, None) and len(commands) == 1


def test_huge_pages_are_read_from_the_rollup_and_shown(bench, tmp_path):
    rollup = tmp_path / "smaps_rollup"
    rollup.write_text("Rss:             4194304 kB\nAnonHugePages:   3145728 kB\n")
    assert bench._huge_pages_gib(rollup) == 3.0
    assert bench._huge_pages_gib(tmp_path / "missing") is None
    audit = {
        "seconds": 10.0,
        "records": 5,
        "stages": dict.fromkeys([*bench.STAGES, "other", "report"], 1.0),
        "peak_rss_gib": 3.5,
        "huge_pages_gib": 3.0,
        "system_seconds": 0.8,
    }
    header, _, row = bench.report([{"size": 100, "audit": audit, "read_only": {}}]).splitlines()
    cells = dict(zip(header.split(" | "), row.split(" | "), strict=True))
    assert cells["RSS GiB"] == "3.50" and cells["huge GiB"] == "3.0"
