"""Peak memory of ``prefsync-audit run`` on wide and long exports.

Each export is generated into a temporary folder, then audited by a child
process whose peak resident set size is read with
``resource.getrusage(RUSAGE_CHILDREN)`` (from a small wrapper process, so only
that one run counts). The results feed ``docs/limits.md``.

    python bench/memory_limits.py                 # the documented set (5M rows: minutes, ~10 GB)
    python bench/memory_limits.py --quick         # the sizes the test suite uses
    python bench/memory_limits.py --wide 200x100000 --long 1000000

The test suite (``tests/test_concurrency.py``) imports ``wide_export``,
``long_export`` and ``measure`` from here, so both measure the same thing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

WIDE_CONFIG = """\
as_of: 2026-03-01T00:00:00Z
systems:
  crm:
    paths: crm.csv
    mapping:
      identifiers: {email: {column: Email}}
      updated_at: {column: Updated}
      preferences:
        - purpose: marketing
          channel: email
          scope: {group: 1}
          state: {column_pattern: 'opt_(\\d+)', vocabulary: boolean}
"""

LONG_CONFIG = """\
as_of: 2026-03-01T00:00:00Z
systems:
  cmp:
    paths: cmp.csv
    mapping:
      identifiers: {email: {column: Email}}
      updated_at: {column: Updated}
      capture_source: {column: Source}
      preferences:
        - purpose: {column: Purpose}
          channel: '*'
          state: {column: Status, values: {granted: granted, denied: denied, withdrawn: denied}}
"""

#: The wrapper: run the command, then report the peak RSS of that child alone.
_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "print(json.dumps({'returncode': done.returncode,\n"
    "    'peak_rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,\n"
    "    'seconds': time.perf_counter() - started,\n"
    "    'stdout': done.stdout, 'stderr': done.stderr[-2000:]}))\n"
)


def wide_export(
    folder: Path, rows: int, columns: int = 200, mapped: int = 10, quoted: bool = True
) -> Path:
    """A CRM-like export: Email, Updated, ``mapped`` boolean preference columns
    (``opt_0``…) and filler text columns up to ``columns``, every value quoted
    (as Salesforce writes them) or, ``quoted=False``, none (as most marketing
    platforms do: then the audit leaves the filler columns unparsed). Returns
    the config."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    data = {
        "Email": pa.array([f"user{i}@ex.com" for i in range(rows)]),
        "Updated": pa.array(
            np.array(["2026-01-01T00:00:00Z", "2025-06-01T12:00:00Z"])[rng.integers(0, 2, rows)]
        ),
    }
    flags = pa.array(["true", "false", "yes", "no", ""])
    filler = pa.array([f"value {i}" for i in range(1000)])
    for i in range(columns - 2):
        if i < mapped:
            data[f"opt_{i}"] = flags.take(pa.array(rng.integers(0, len(flags), rows)))
        else:
            data[f"field_{i}"] = filler.take(pa.array(rng.integers(0, len(filler), rows)))
    style = "needed" if quoted else "none"
    options = pa_csv.WriteOptions(quoting_style=style, quoting_header=style)
    pa_csv.write_csv(pa.table(data), folder / "crm.csv", options)
    (folder / "audit.yaml").write_text(WIDE_CONFIG)
    return folder / "audit.yaml"


def long_export(folder: Path, rows: int, distinct_times: int | None = None) -> Path:
    """A consent log: one row per (person, purpose) change, three rows per person.
    ``distinct_times`` caps how many different timestamps occur (None: nearly all
    differ, the worst case for parsing). Returns the config."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    person = rng.integers(0, max(rows // 3, 1), rows)
    seconds = rng.integers(0, 365 * 86400, rows)
    if distinct_times:
        seconds = seconds % distinct_times * (365 * 86400 // distinct_times)
    stamps = (np.datetime64("2025-03-01T00:00:00") + seconds.astype("timedelta64[s]")).astype(str)
    table = pa.table(
        {
            "Email": np.char.add(np.char.add("user", person.astype(str)), "@ex.com"),
            "Purpose": np.array(["marketing", "analytics", "advertising"])[
                rng.integers(0, 3, rows)
            ],
            "Status": np.array(["granted", "denied", "withdrawn"])[rng.integers(0, 3, rows)],
            "Updated": np.char.add(stamps, "Z"),
            "Source": np.array(["web", "app", "support", ""])[rng.integers(0, 4, rows)],
        }
    )
    pa_csv.write_csv(table, folder / "cmp.csv")
    (folder / "audit.yaml").write_text(LONG_CONFIG)
    return folder / "audit.yaml"


def start(config: Path) -> subprocess.Popen:
    """Start a measured ``run`` of ``config`` (JSON summary on the child's stdout)."""
    command = [sys.executable, "-m", "prefsync_audit", "run", str(config), "--format", "json"]
    return subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, *command], stdout=subprocess.PIPE, text=True
    )


def finish(process: subprocess.Popen, timeout: float = 1800) -> dict:
    """The measurement: returncode, peak_rss_mb, seconds, and the run's summary."""
    stdout, _ = process.communicate(timeout=timeout)
    report = json.loads(stdout)
    report["summary"] = json.loads(report.pop("stdout")) if report["returncode"] == 0 else None
    return report


def measure(config: Path) -> dict:
    return finish(start(config))


def _size(text: str) -> tuple[int, int]:
    columns, rows = text.lower().split("x")
    return int(columns), int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wide", action="append", help="COLUMNSxROWS, e.g. 200x50000")
    parser.add_argument("--long", action="append", type=int, help="rows of the long export")
    parser.add_argument("--quick", action="store_true", help="only the test-suite sizes")
    parser.add_argument(
        "--unquoted", action="store_true", help="wide exports without quotes (see wide_export)"
    )
    args = parser.parse_args()
    wide = [_size(w) for w in args.wide or []]
    long = list(args.long or [])
    if not wide and not long:
        wide = [(200, 50_000)] if args.quick else [(200, 50_000), (200, 200_000)]
        long = [500_000] if args.quick else [500_000, 1_000_000, 5_000_000]
    print(f"{'export':<34} {'file MB':>8} {'peak RSS MB':>12} {'seconds':>8}  rows read")
    with tempfile.TemporaryDirectory() as tmp:
        quoting = "unquoted" if args.unquoted else "quoted"
        jobs = [
            (f"wide {c} cols x {r}, {quoting}", wide_export, (r, c, 10, not args.unquoted))
            for c, r in wide
        ]
        jobs += [(f"long {r} rows", long_export, (r,)) for r in long]
        for i, (label, make, size) in enumerate(jobs):
            config = make(Path(tmp) / str(i), *size)
            data = next(p for p in config.parent.iterdir() if p.suffix == ".csv")
            result = measure(config)
            read = result["summary"]["inputs"][0]["rows_read"] if result["summary"] else "-"
            print(
                f"{label:<34} {data.stat().st_size / 2**20:>8.0f} "
                f"{result['peak_rss_mb']:>12.0f} {result['seconds']:>8.1f}  {read}",
                flush=True,
            )
            if result["returncode"] != 0:
                print(result["stderr"], file=sys.stderr)
            data.unlink()


if __name__ == "__main__":
    main()
