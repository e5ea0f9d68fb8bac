"""Benchmark: how fast ``trace --from-run`` answers on a large run folder.

Generates a synthetic run folder shaped like ``run --output DIR --save-canonical``
writes it (``canonical/{records,observations,expected,system_states,anchors}.parquet``,
``findings.parquet``, ``summary.json``) for N persons in five systems, builds the
investigation index once (timed apart: ``trace`` does it on first use), then
times ``prefsync-audit trace --from-run DIR IDENTIFIER`` end to end (a fresh
process, imports included; wall and CPU) for several kinds of identifier, and
the library call alone. On a loaded machine wall time follows the load; the
CPU time is what an idle machine would take.

It prints figures; it is not a test::

    python bench/trace_from_run.py --persons 1000000            # generate + time
    python bench/trace_from_run.py --persons 1000000 --keep DIR  # reuse DIR next time
    python bench/trace_from_run.py --scenario S/audit.yaml --keep DIR  # the real scenario

With ``--scenario``, the run folder is the audit of a ``prefsync-audit generate``
scenario (``run --output DIR --save-canonical``, timed, skipped when DIR holds
it already) and the identifiers are those of the first person ``truth.parquet``
lists with a suppression gap in the ad audience, spelled as an analyst would
paste them.

Shape per person (deterministic): a CRM contact (customer id, email, phone; email
and phone marketing flags), a Mailchimp member (80 % of persons), SMS keywords
(30 %), three consent receipts (email, sms and advertising purposes) and an ad
audience row with hashed email and phone (30 %). 1M persons give about 5.4M
records and 6.5M observations.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

SYSTEMS = ["crm", "email", "sms", "cmp", "ads"]
KINDS = ["customer_id", "email", "phone", "device_id", "email_sha256", "phone_sha256"]
EPOCH = pd.Timestamp("2025-01-01", tz="UTC").value


def _write(path: Path, frame: pd.DataFrame) -> None:
    """As ``report.files.write_canonical`` writes: pandas → Arrow, default options."""
    for column in frame.columns:
        if str(frame[column].dtype) in ("str", "string"):
            frame[column] = frame[column].astype("object")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


def _email(i: np.ndarray) -> np.ndarray:
    return np.char.add(np.char.add("person", i.astype(str)), "@mail.example").astype(object)


def _phone(i: np.ndarray) -> np.ndarray:
    # Exchange codes 200–999: valid NANP numbers, so national spellings parse.
    return np.char.add("+1212", (2_000_000 + i % 8_000_000).astype(str)).astype(object)


def _sha(values: np.ndarray) -> np.ndarray:
    return np.array([hashlib.sha256(v.encode()).hexdigest() for v in values], dtype=object)


def generate(folder: Path, persons: int, seed: int = 7) -> dict[str, int]:
    """Write a synthetic run folder; returns row counts per table."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, persons + 1)
    parts = []
    # system, persons holding a record, records per person, identifier columns
    plan = [
        ("crm", ids, 1, {"customer_id", "email", "phone"}),
        ("email", ids[rng.random(persons) < 0.8], 1, {"email"}),
        ("sms", ids[rng.random(persons) < 0.3], 1, {"phone"}),
        ("cmp", ids, 3, {"email"}),
        ("ads", ids[rng.random(persons) < 0.3], 1, {"email_sha256", "phone_sha256"}),
    ]
    next_key = 0
    observations = []
    for system, holders, per_person, kinds in plan:
        holders = rng.permutation(holders)  # exports are not in person order
        person = np.repeat(holders, per_person)
        n = len(person)
        keys = np.arange(next_key, next_key + n)
        next_key += n
        frame = pd.DataFrame(
            {
                "record_key": keys,
                "person_id": person,
                "system": system,
                "source_file": f"exports/{system}.csv",
                "source_row": np.arange(1, n + 1),
                "record_id": np.char.add(f"{system}-", keys.astype(str)).astype(object),
            }
        )
        for kind in KINDS:
            frame[kind] = None
        if "customer_id" in kinds:
            frame["customer_id"] = np.char.add("C", person.astype(str)).astype(object)
        if "email" in kinds:
            frame["email"] = _email(person)
        if "phone" in kinds:
            frame["phone"] = _phone(person)
        if "email_sha256" in kinds:
            frame["email_sha256"] = _sha(_email(person))
            frame["phone_sha256"] = _sha(_phone(person))
        parts.append(frame)
        times = EPOCH + rng.integers(0, 400 * 86400, n) * 1_000_000_000
        if system == "cmp":
            purpose = np.tile(["marketing", "marketing", "advertising"], len(holders))
            channel = np.tile(["email", "sms", "*"], len(holders))
        elif system == "crm":
            purpose, channel = "marketing", "email"
        elif system == "ads":
            purpose, channel = "advertising", "*"
        else:
            purpose, channel = "marketing", "email" if system == "email" else "sms"
        states = np.where(rng.random(n) < 0.8, "granted", "denied")
        obs = pd.DataFrame(
            {
                "record_key": keys,
                "system": system,
                "purpose": purpose,
                "channel": channel,
                "scope": "*",
                "state": states,
                "raw_value": states,
                "source_column": "Status",
                "updated_at": pd.to_datetime(times, utc=True),
                "capture_source": "web" if system == "cmp" else None,
                "proof": None,
            }
        )
        if system == "ads":
            obs["updated_at"] = pd.NaT
        observations.append(obs)
        if system == "crm":  # a second flag per CRM contact (DoNotCall)
            observations.append(obs.assign(channel="phone"))
    records = pd.concat(parts, ignore_index=True)
    records["system"] = pd.Categorical(records["system"], categories=SYSTEMS)
    observations = pd.concat(observations, ignore_index=True)
    for column in ("system", "purpose", "channel", "scope", "state"):
        observations[column] = observations[column].astype("category")

    person_of_record = pd.Series(records["person_id"].to_numpy(), index=records["record_key"])
    obs = observations.assign(person_id=person_of_record.reindex(observations["record_key"]).values)
    group = ["person_id", "purpose", "channel", "scope"]
    states = (
        obs.sort_values([*group, "system", "updated_at"])
        .drop_duplicates([*group, "system"], keep="last")
        .rename(columns={"state": "actual_state", "updated_at": "system_updated_at"})
    )
    states = states[[*group, "system", "actual_state", "system_updated_at", "record_key"]]
    for column in ("purpose", "channel", "scope", "actual_state"):
        states[column] = states[column].astype(object)
    states = states.sort_values([*group, "system"], ignore_index=True)
    expected = states.drop_duplicates(group, keep="last")[[*group, "actual_state"]]
    expected = expected.rename(columns={"actual_state": "expected_state"}).reset_index(drop=True)
    expected["deciding_at"] = pd.Timestamp("2025-06-01", tz="UTC")
    expected["deciding_system"] = "cmp"
    expected["authority_system"] = np.where(expected["purpose"] == "marketing", "cmp", None)
    expected["authority_updated_at"] = pd.Timestamp("2025-06-01", tz="UTC")

    canonical = folder / "canonical"
    canonical.mkdir(parents=True, exist_ok=True)
    _write(canonical / "records.parquet", records)
    _write(canonical / "observations.parquet", observations)
    _write(canonical / "expected.parquet", expected)
    _write(canonical / "system_states.parquet", states)
    anchors = pd.DataFrame(
        {"person_id": ids, "anchor_kind": "customer_id", "anchor_value": [f"C{i}" for i in ids]}
    )
    _write(canonical / "anchors.parquet", anchors)
    findings = _findings(states, expected, persons)
    _write(folder / "findings.parquet", findings)
    summary = {
        "schema_version": 1,
        "as_of": "2026-03-01T00:00:00Z",
        "systems": SYSTEMS,
        "policy": {
            "latency_sla_seconds": 259200.0,
            "regrant_requires_evidence": True,
            "authorities": [
                {"key": "marketing/email/*", "system": "cmp"},
                {"key": "marketing/sms/*", "system": "cmp"},
            ],
            "must_hold": {},
        },
        "persons": persons,
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    return {
        "records": len(records),
        "observations": len(observations),
        "expected": len(expected),
        "system_states": len(states),
        "findings": len(findings),
    }


def _findings(states: pd.DataFrame, expected: pd.DataFrame, persons: int) -> pd.DataFrame:
    """About one finding per hundred persons, in the findings.parquet columns."""
    sample = states.iloc[:: max(1, len(states) // max(1, persons // 100))].copy()
    sample = sample.merge(expected, on=["person_id", "purpose", "channel", "scope"])
    n = len(sample)
    return pd.DataFrame(
        {
            "finding_id": [f"{i:016x}" for i in range(n)],
            "kind": "suppression_gap",
            "severity": "critical",
            "person_id": sample["person_id"].to_numpy(),
            "system": sample["system"].astype(object).to_numpy(),
            "purpose": sample["purpose"].to_numpy(),
            "channel": sample["channel"].to_numpy(),
            "scope": sample["scope"].to_numpy(),
            "expected_state": "denied",
            "actual_state": "granted",
            "authority_system": None,
            "authority_updated_at": None,
            "deciding_system": "cmp",
            "deciding_at": "2025-06-01T00:00:00Z",
            "system_updated_at": None,
            "lag_seconds": 1.0,
            "identity_conflict": False,
            "identifiers": "",
            "source_file": "exports/x.csv",
            "source_row": 1,
            "detail": "",
        }
    )


def _time_cli(folder: Path, identifier: str, repeat: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of a fresh ``prefsync-audit trace --from-run`` process."""
    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "prefsync_audit",
                "trace",
                "--from-run",
                str(folder),
                identifier,
            ],
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        times.append((wall, cpu))
        if done.returncode != 0:
            raise SystemExit(f"trace failed ({done.returncode}): {done.stderr.strip()}")
    return times


def _time_library(folder: Path, identifier: str, repeat: int) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of ``trace_person`` in this process (imports already done)."""
    from prefsync_audit.investigate import RunFolderSource, trace_person

    times = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        trace_person(RunFolderSource(folder), identifier)
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def _audit_scenario(config: Path, folder: Path) -> None:
    """``run CONFIG --output FOLDER --save-canonical`` in a child process, timed."""
    start = time.perf_counter()
    done = subprocess.run(
        [
            *(sys.executable, "-m", "prefsync_audit", "run", str(config)),
            *("--output", str(folder), "--save-canonical"),
        ],
        capture_output=True,
        text=True,
    )
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    if done.returncode not in (0, 1):  # 1: the audit found what it was planted to find
        raise SystemExit(f"run failed ({done.returncode}): {done.stderr.strip()}")
    print(
        f"audited {config} into {folder} with --save-canonical (index included): "
        f"{time.perf_counter() - start:.1f} s wall, peak RSS {peak:.2f} GiB"
    )


def _scenario_cases(config: Path) -> dict[str, str]:
    """Identifiers of the first planted ad-audience gap, as an analyst would paste them."""
    truth = pd.read_parquet(config.parent / "truth.parquet")
    person = truth[(truth["case"] == "gap_ads") & truth["phone"].notna()].iloc[0]
    national = person["phone"][2:]  # +1NNNNNNNNNN → NNNNNNNNNN
    return {
        "email": f"  {person['email'].title()} ",
        "phone (national spelling)": f"({national[:3]}) {national[3:6]}-{national[6:]}",
        "customer id": person["customer_id"],
        "sha256 of an email": person["email_sha256"],
    }


def _median(times: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="run folder to reuse (generated if missing)")
    parser.add_argument(
        "--scenario", type=Path, help="audit.yaml of a generated scenario to audit and trace"
    )
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="trace-bench-"))
    if args.scenario and not (folder / "summary.json").exists():
        _audit_scenario(args.scenario, folder)
    elif not (folder / "canonical" / "records.parquet").exists():
        start = time.perf_counter()
        counts = generate(folder, args.persons)
        print(f"generated {folder} in {time.perf_counter() - start:.1f} s: {counts}")
    size = sum(f.stat().st_size for f in (folder / "canonical").glob("*.parquet")) / 2**20
    print(f"run folder: {folder} ({size:.0f} MiB of canonical Parquet), {os.cpu_count()} CPUs")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    from prefsync_audit.investigate.index import build_index, read_meta

    if read_meta(folder) is None:
        start, cpu = time.perf_counter(), time.process_time()
        build_index(folder)
        index = folder / "canonical" / "index"
        size = sum(f.stat().st_size for f in index.iterdir()) / 2**20
        print(
            f"index built once: {time.perf_counter() - start:.1f} s wall, "
            f"{time.process_time() - cpu:.1f} s CPU, {size:.0f} MiB"
        )

    if args.scenario:
        cases = _scenario_cases(args.scenario)
    else:
        last = args.persons
        probe = last * 2 // 3
        local = str(2_000_000 + probe % 8_000_000)
        cases = {
            "email": f"  Person{probe}@Mail.Example ",
            "phone (national spelling)": f"(212) {local[:3]}-{local[3:]}",
            "customer id": f"C{last}",
            "sha256 of an email": hashlib.sha256(
                f"person{probe}@mail.example".encode()
            ).hexdigest(),
        }
    print(
        f"{'identifier':28} {'cli wall':>9} {'cli CPU':>8} {'library wall':>13} {'library CPU':>12}"
        "   (medians)"
    )
    for name, identifier in cases.items():
        cli_wall, cli_cpu = _median(_time_cli(folder, identifier, args.repeat))
        lib_wall, lib_cpu = _median(_time_library(folder, identifier, args.repeat))
        print(f"{name:28} {cli_wall:8.2f}s {cli_cpu:7.2f}s {lib_wall:12.2f}s {lib_cpu:11.2f}s")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
