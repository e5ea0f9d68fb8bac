"""junit.xml: golden file on the demo; cases per threshold and per system × key."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from prefsync_audit.audit import AuditResult
from prefsync_audit.report.junit import render_junit
from prefsync_audit.report.model import ReportOptions
from tests.report._golden import assert_golden


def parse(text: str) -> ET.Element:
    return ET.fromstring(text.encode("utf-8"))


def failed(root: ET.Element) -> list[str]:
    return [
        f"{case.get('classname')}:{case.get('name')}"
        for case in root.iter("testcase")
        if case.find("failure") is not None
    ]


def test_demo_junit_matches_golden(demo_result: AuditResult):
    assert_golden("junit.xml", render_junit(demo_result))


def test_one_case_per_threshold_and_per_system_key(demo_result: AuditResult):
    root = parse(render_junit(demo_result))
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert set(suites) == {"thresholds", "checks"}
    assert len(suites["thresholds"].findall("testcase")) == len(demo_result.thresholds)
    by_system = demo_result.metrics["by_system"]
    pairs = sum(len(entry["by_key"]) for entry in by_system.values())
    assert len(suites["checks"].findall("testcase")) == pairs
    for suite in suites.values():
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(sum(c.find("failure") is not None for c in cases))
    assert root.get("tests") == str(len(demo_result.thresholds) + pairs)


def test_failures_carry_the_numbers(demo_result: AuditResult):
    root = parse(render_junit(demo_result))
    case = root.find(".//testcase[@classname='thresholds.overall'][@name='suppression_gaps']")
    failure = case.find("failure")
    gaps = demo_result.metrics["overall"]["suppression_gaps"]
    assert failure.get("message") == (
        f"suppression_gaps (overall) = {gaps}: above the fail level 5"
    )
    assert f"value: {gaps}" in failure.text
    assert "decides the run's status: yes" in failure.text
    ads = root.find(".//testcase[@classname='checks.ads'][@name='advertising/*/*']")
    text = ads.find("failure").text
    assert "suppression gaps: 3" in text
    assert "threshold suppression_gaps, overall, system:ads" in ads.find("failure").get("message")


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [
        ("never", []),
        ("fail", []),
        (
            "warn",
            [
                "thresholds.overall:suppression_gaps",
                "checks.esp:marketing/email/*",
                "checks.ads:marketing/email/*",
            ],
        ),
    ],
)
def test_failed_cases_follow_fail_on(mini_result: AuditResult, fail_on: str, expected: list):
    # The mini run is "warn" (2 gaps, warn level 0, fail level 5): only
    # --fail-on warn makes it exit 1, so only then may the XML show failures.
    root = parse(render_junit(mini_result, ReportOptions(fail_on=fail_on)))
    assert failed(root) == expected


def test_passing_case_keeps_its_numbers_in_system_out(mini_result: AuditResult):
    root = parse(render_junit(mini_result))
    case = root.find(".//testcase[@classname='checks.cmp']")
    assert "comparisons: 3" in case.find("system-out").text


def test_hostile_values_make_valid_xml(hostile_result: AuditResult):
    root = parse(render_junit(hostile_result, ReportOptions(fail_on="warn")))
    assert root.tag == "testsuites"
