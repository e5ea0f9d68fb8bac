"""The report model: numbers agree with summary.json, words follow the config."""

from __future__ import annotations

from prefsync_audit.audit import AuditResult
from prefsync_audit.report._charts import heat_colour, lag_histogram
from prefsync_audit.report.model import ReportOptions, build_report, raw_identifiers
from prefsync_audit.report.summary import build_summary


def test_latency_histograms_count_what_metrics_count(demo_result: AuditResult):
    report = build_report(demo_result)
    by_system = demo_result.metrics["by_system"]
    for entry in report.latency:
        counted = sum(bar.count for bar in entry.chart.bars)
        assert counted == by_system[entry.system]["sync_latency"]["count"] == entry.count
        assert entry.overdue == by_system[entry.system]["suppression_gaps"]
        assert entry.pending == by_system[entry.system]["pending_syncs"]


def test_histogram_bars_are_coloured_against_the_sla():
    import numpy as np

    chart = lag_histogram(np.array([30.0, 7200.0, 200_000.0, 400_000.0]), 72 * 3600)
    tones = {bar.label: bar.tone for bar in chart.bars}
    assert tones["1–6h"] == "ok" and tones["1–3d"] == "ok" and tones["3–7d"] == "late"
    assert [bar.count for bar in chart.bars if bar.count] == [1, 1, 1, 1]
    # 72 h is the edge between the 1–3d and 3–7d bins.
    slot = chart.width / len(chart.bars)
    assert chart.sla_x == round(5 * slot, 1)


def test_heatmap_has_a_cell_per_system_and_key(demo_result: AuditResult):
    heatmap = build_report(demo_result).heatmap
    assert [system for system, _ in heatmap.rows] == list(demo_result.config.systems)
    for system, cells in heatmap.rows:
        held = demo_result.metrics["by_system"][system]["by_key"]
        assert len(cells) == len(heatmap.keys)
        assert sum(1 for c in cells if c.text) == len(held)
    assert heat_colour(None)[0] == "#eeeeee"
    assert heat_colour(0.0)[0] == "#d8f0dc"
    assert heat_colour(0.5) == heat_colour(0.10)  # saturates at 10 %


def test_thresholds_in_words_and_which_fail_the_run(mini_result: AuditResult):
    lines = build_report(mini_result).thresholds
    assert [t.sentence for t in lines] == ["suppression_gaps (overall) = 2: above the warn level 0"]
    assert not lines[0].fails_run
    assert build_report(mini_result, ReportOptions(fail_on="warn")).thresholds[0].fails_run


def test_policy_in_plain_words(mini_result: AuditResult):
    policy = build_report(mini_result).policy
    assert "A grant counts only from the key's source of truth: cmp for marketing/email/*." in (
        " ".join(policy)
    )
    assert any("within 72 hours" in s for s in policy)
    assert any(s.startswith("esp must hold a state for marketing/email/*") for s in policy)


def test_examples_are_the_longest_waiting_first(demo_result: AuditResult):
    report = build_report(demo_result, ReportOptions(top_examples=3))
    gaps = next(k for k in report.kinds if k.kind == "suppression_gap")
    assert len(gaps.examples) == 3
    waiting = demo_result.findings.query("kind == 'suppression_gap'")["lag_seconds"]
    longest = waiting.sort_values(ascending=False, kind="stable").head(3)
    assert [e.finding_id for e in gaps.examples] == demo_result.findings.loc[
        longest.index, "finding_id"
    ].tolist()


def test_raw_identifiers_for_reveal(mini_result: AuditResult):
    person = int(mini_result.findings.iloc[0]["person_id"])
    text = raw_identifiers(mini_result, [person])[person]
    assert text.startswith("email=a@x.com phone=+12125550123 email_sha256=")


def test_summary_gains_history_only_when_given(mini_result: AuditResult):
    assert build_summary(mini_result)["history"] is None
