#!/usr/bin/env python3
"""Benchmark: end-to-end audit time, time per stage, peak RSS, and the same files
read by pyarrow alone, for generated scenarios of several sizes × 5 systems.

    python bench/run_benchmark.py                                   # 100k and 1M
    python bench/run_benchmark.py --sizes 100000,1000000,5000000 --timeout 1800
    python bench/run_benchmark.py --sizes 100000 --profile prof.html  # + pyinstrument

For each size the scenario is generated once into ``--cache`` (reused when its
``truth.json`` is there) with ``prefsync-audit generate``. Each measurement runs
in a child process of its own, so peak RSS (``ru_maxrss``) is that of the
measured work alone:

* **read-only**: every export file read with ``pyarrow.csv.read_csv`` (or
  ``pyarrow.parquet.read_table``) and nothing else; best of two passes;
* **audit**: ``run_audit`` with a timer around each stage function (wrapped in
  ``prefsync_audit.audit``'s namespace, audit.py itself untouched), then the
  report stage (``write_outputs`` + the text summary), as ``run`` would.

``--repeat N`` runs every size N times, in rounds through all sizes (so that a
drift of a shared machine's speed falls on each size alike), and reports each
size's median audit run, every run's time and the ratio of each round.

Prints one table; ``--json FILE`` keeps the figures. Not a test: nothing is
asserted, the targets are printed beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Stage → the functions of ``prefsync_audit.audit`` timed for it (as audit.py names them).
STAGES = {
    "load": ["load_file"],
    "map": ["map_file"],
    "resolve": ["hash_profiles", "resolve_identities"],
    "evaluate": ["key_universe", "evaluate"],
    "compare": ["find"],
    "metrics": ["compute_metrics", "identity_metrics", "check_thresholds"],
}
TARGETS = {"seconds_1m": 60.0, "rss_gib": 6.0, "scaling_5m": 5.5, "ratio": 8.0}


# --------------------------------------------------------------------------- children


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _export_files(config_path: Path) -> list[Path]:
    from prefsync_audit.config import load_config
    from prefsync_audit.load import resolve_paths

    config = load_config(config_path)
    files: list[Path] = []
    for system, settings in config.systems.items():
        files += resolve_paths(settings.paths, config.base_dir, system)
    return files


def child_read_only(config_path: Path) -> dict:
    """Time pyarrow reading every export (defaults, multi-threaded), nothing else."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    files = _export_files(config_path)

    def read_all() -> int:
        rows = 0
        for path in files:
            if path.suffix == ".parquet":
                rows += pq.read_table(path).num_rows
            else:
                table = pa_csv.read_csv(
                    path,
                    parse_options=pa_csv.ParseOptions(invalid_row_handler=lambda row: "skip"),
                )
                rows += table.num_rows
        return rows

    timings = []
    for _ in range(2):
        start = time.perf_counter()
        rows = read_all()
        timings.append(time.perf_counter() - start)
    size = sum(p.stat().st_size for p in files)
    return {
        "seconds": min(timings),
        "rows": rows,
        "files": len(files),
        "bytes": size,
        "peak_rss_gib": _peak_rss_gib(),
    }


def _wrap(module, name: str, totals: dict[str, float]) -> None:
    function = getattr(module, name, None)
    if function is None:
        return

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - start

    setattr(module, name, timed)


def child_audit(
    config_path: Path,
    profile: str | None,
    keep_memory: bool | None = None,
    workers: int | None = None,
) -> dict:
    """``run_audit`` with per-stage timers, then the report stage, in a process
    set up as ``prefsync-audit run`` sets up its own (``keep_memory``: as
    ``--keep-freed-memory``/``--return-freed-memory``, None as neither)."""
    from prefsync_audit.memory import share_one_heap

    share_one_heap()  # as the command line does, before pyarrow starts a thread
    import prefsync_audit.audit as audit
    from prefsync_audit.config import load_config
    from prefsync_audit.memory import set_up_memory

    kept = set_up_memory(keep_memory, audit.exports_size(load_config(config_path)))
    if keep_memory and not kept:
        raise SystemExit("--keep-freed-memory: the C library is not glibc")
    from prefsync_audit._threads import default_workers

    totals: dict[str, float] = {}
    for names in [*STAGES.values(), ["load_canonical"]]:
        for name in names:
            _wrap(audit, name, totals)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
    reported_before = _reported_to_host_kib()
    start = time.perf_counter()
    result = audit.run_audit(config_path, workers=workers)
    audit_seconds = time.perf_counter() - start

    report_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        from prefsync_audit.report import RENDERERS
        from prefsync_audit.report.files import write_outputs

        write_outputs(result, Path(out))
        RENDERERS["text"](result)
    report_seconds = time.perf_counter() - report_start
    reported_after = _reported_to_host_kib()
    huge_pages = _huge_pages_gib()
    if profiler is not None:
        profiler.stop()
        Path(profile).write_text(profiler.output_html())
        Path(profile).with_suffix(".txt").write_text(
            profiler.output_text(unicode=True, color=False, show_all=False)
        )
        Path(profile).with_suffix(".hotspots.txt").write_text(
            hotspots(profiler.last_session.root_frame())
        )

    stages = {stage: sum(totals.get(n, 0.0) for n in names) for stage, names in STAGES.items()}
    load_and_map = totals.get("load_canonical", 0.0)
    busy = stages["load"] + stages["map"]
    if busy > load_and_map:
        # Files loaded and mapped in several threads at once: their wall time
        # shared in proportion to the time the threads spent on each.
        stages["load"] = load_and_map * stages["load"] / busy
    # load_canonical also concatenates and categorizes the per-file tables: mapping work.
    stages["map"] = load_and_map - stages["load"]
    stages["other"] = audit_seconds - sum(stages.values())
    stages["report"] = report_seconds
    records = result.canonical.records
    return {
        "seconds": audit_seconds + report_seconds,
        "audit_seconds": audit_seconds,
        "workers": workers or default_workers(),
        "kept_freed_memory": kept,
        "stages": stages,
        "records": len(records),
        "observations": len(result.canonical.observations),
        "persons": result.identity["persons"],
        "findings": len(result.findings),
        "peak_rss_gib": _peak_rss_gib(),
        "huge_pages_gib": huge_pages,
        **_cpu_and_faults(),
        "reported_to_host_gib": None
        if reported_before is None or reported_after is None
        else (reported_after - reported_before) / 2**20,
    }


#: Free memory the guest kernel has handed back to the hypervisor (virtio-balloon
#: free page reporting), in KiB since boot; absent on bare metal.
PAGE_REPORTING = Path("/sys/module/page_reporting/parameters/reported_kib")


def _reported_to_host_kib() -> int | None:
    """On a virtual machine with free page reporting, memory freed by a run is
    returned to the host, and the next first touch of it costs a fault in the
    host as well: the figure says how much of that a run caused (the machine
    being otherwise idle)."""
    try:
        return int(PAGE_REPORTING.read_text())
    except (OSError, ValueError):
        return None


def _huge_pages_gib(rollup: Path = Path("/proc/self/smaps_rollup")) -> float | None:
    """How much of this process's memory is in transparent huge pages now
    (``AnonHugePages``): numpy's arrays and, where freed memory is kept, the
    heap ask for them, and the kernel gives them only where it has 2 MiB free
    in one piece — one reason the same run faults more on a busier machine."""
    try:
        for line in rollup.read_text().splitlines():
            name, _, value = line.partition(":")
            if name == "AnonHugePages":
                return int(value.split()[0]) / 2**20  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cpu_and_faults() -> dict[str, float]:
    """User and system CPU seconds and minor page faults of this process: on a
    virtual machine, first touches of fresh memory (system time) are a large
    part of the wall time, and they grow with the memory a run churns through."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "user_seconds": usage.ru_utime,
        "system_seconds": usage.ru_stime,
        "minor_page_faults": usage.ru_minflt,
    }


def hotspots(root, top: int = 25) -> str:
    """Self time by function, and inclusive time of the package's own functions."""
    total = root.time
    own: dict[tuple[str, str], float] = {}
    inclusive: dict[tuple[str, str], float] = {}

    def walk(frame, ancestors: frozenset) -> None:
        if frame.is_synthetic:
            return
        key = (frame.function, f"{frame.file_path_short}:{frame.line_no}")
        own[key] = own.get(key, 0.0) + frame.total_self_time
        path = frame.file_path or ""
        if "prefsync_audit" in path and key not in ancestors:  # no double count in recursion
            inclusive[key] = inclusive.get(key, 0.0) + frame.time
        for child in frame.children:
            walk(child, ancestors | {key})

    walk(root, frozenset())
    lines = [f"total {total:.2f} s", "", "self time (where the CPU is):"]
    for (function, where), seconds in sorted(own.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{seconds:8.2f} s {100 * seconds / total:5.1f} %  {function}  {where}")
    lines += ["", "inclusive time of prefsync_audit functions:"]
    for (function, where), seconds in sorted(inclusive.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"{seconds:8.2f} s {100 * seconds / total:5.1f} %  {function}  {where}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- parent


def _child(args: list[str], timeout: float) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_scenario(cache: Path, size: int, seed: int, fmt: str) -> tuple[Path, float | None]:
    folder = cache / f"n{size}-s{seed}-{fmt}"
    if (folder / "truth.json").is_file() and (folder / "audit.yaml").is_file():
        return folder, None
    # In a child process: Linux keeps a process's peak RSS across exec, so every
    # child started after a generation in this process would report its peak.
    command = [sys.executable, "-m", "prefsync_audit", "generate", str(folder)]
    command += ["--persons", str(size), "--seed", str(seed), "--format", fmt]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"generating {folder} failed: {done.stderr.strip()}")
    return folder, time.perf_counter() - start


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gib": round(memory, 1),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def median_run(runs: list[dict]) -> dict:
    """The run of median end-to-end time (the faster middle one of an even
    count); the first run if none finished."""
    finished = sorted((run for run in runs if "seconds" in run), key=lambda run: run["seconds"])
    if not finished:
        return runs[0]
    return finished[(len(finished) - 1) // 2]


def fastest_run(runs: list[dict]) -> dict:
    """The fastest read-only run (each is already the best of two passes)."""
    finished = [run for run in runs if "seconds" in run]
    return min(finished, key=lambda run: run["seconds"]) if finished else runs[0]


def round_ratios(results: list[dict], small: int, large: int) -> list[float]:
    """The large size's audit time over the small one's, round by round (the two
    runs of a round are the closest in time)."""
    runs = {entry["size"]: entry["audit_runs"] for entry in results if "audit_runs" in entry}
    if small not in runs or large not in runs:
        return []
    return [
        large_run["seconds"] / small_run["seconds"]
        for small_run, large_run in zip(runs[small], runs[large], strict=True)
        if "seconds" in small_run and "seconds" in large_run
    ]


def report(results: list[dict]) -> str:
    stages = [*STAGES, "other", "report"]
    header = [
        "persons",
        "records",
        "MB",
        "gen s",
        "read s",
        "audit s",
        *stages,
        "ratio",
        "RSS GiB",
        "huge GiB",
        "sys s",
        "faults M",
        "to host GiB",
        "freed memory",
    ]
    lines = [" | ".join(header), " | ".join("---" for _ in header)]
    for entry in results:
        audit, read = entry["audit"], entry["read_only"]
        if "error" in audit:
            lines.append(f"{entry['size']:,} | {audit['error']}")
            continue
        ratio = audit["seconds"] / read["seconds"] if "seconds" in read else None
        row = [
            f"{entry['size']:,}",
            f"{audit['records']:,}",
            f"{read.get('bytes', 0) / 1e6:.0f}",
            _seconds(entry.get("generate_seconds")),
            _seconds(read.get("seconds")),
            _seconds(audit["seconds"]),
            *(_seconds(audit["stages"][s]) for s in stages),
            "–" if ratio is None else f"{ratio:.1f}",
            f"{audit['peak_rss_gib']:.2f}",
            _seconds(audit.get("huge_pages_gib")),
            _seconds(audit.get("system_seconds")),
            f"{audit.get('minor_page_faults', 0) / 1e6:.1f}",
            _seconds(audit.get("reported_to_host_gib")),
            {True: "kept", False: "returned"}.get(audit.get("kept_freed_memory"), "–"),
        ]
        lines.append(" | ".join(row))
    return "\n".join(lines)


def targets(results: list[dict]) -> list[str]:
    by_size = {e["size"]: e["audit"] for e in results if "seconds" in e["audit"]}
    notes = []
    if 1_000_000 in by_size:
        one = by_size[1_000_000]
        notes.append(
            f"1M end to end {one['seconds']:.1f} s (target < {TARGETS['seconds_1m']:.0f} s), "
            f"peak RSS {one['peak_rss_gib']:.2f} GiB (target < {TARGETS['rss_gib']:.0f} GiB)"
        )
        if 5_000_000 in by_size:
            scale = by_size[5_000_000]["seconds"] / one["seconds"]
            notes.append(f"5M / 1M time {scale:.2f}× (target ≤ {TARGETS['scaling_5m']}×)")
            rounds = round_ratios(results, 1_000_000, 5_000_000)
            if len(rounds) > 1:
                listed = ", ".join(f"{ratio:.2f}×" for ratio in rounds)
                notes.append(f"5M / 1M in each round: {listed}")
    for entry in results:
        times = [run["seconds"] for run in entry.get("audit_runs", []) if "seconds" in run]
        if len(times) > 1:
            listed = ", ".join(f"{seconds:.1f}" for seconds in times)
            notes.append(
                f"{entry['size']:,}: audit runs {listed} s (median {entry['audit']['seconds']:.1f})"
            )
    for entry in results:
        read = entry["read_only"].get("seconds")
        if read and "seconds" in entry["audit"]:
            ratio = entry["audit"]["seconds"] / read
            goal = TARGETS["ratio"]
            notes.append(f"{entry['size']:,}: audit / read-only {ratio:.1f} (target < {goal:.0f})")
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="persons per scenario")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", default="csv", choices=["csv", "parquet"])
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "prefsync-bench",
        help="where generated scenarios are kept and reused",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per child run")
    parser.add_argument("--profile", help="pyinstrument the audit of the first size (HTML)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    memory = parser.add_mutually_exclusive_group()
    memory.add_argument(
        "--keep-freed-memory",
        dest="keep_freed_memory",
        action="store_true",
        default=None,
        help="audit as `run --keep-freed-memory` does (default: as `run` decides)",
    )
    memory.add_argument(
        "--return-freed-memory",
        dest="keep_freed_memory",
        action="store_false",
        help="audit as `run --return-freed-memory` does",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="audit as `run --workers N` does (default: the audit's own default)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds over all sizes; the median audit of each size is reported",
    )
    parser.add_argument("--child", choices=["read", "audit"], help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "read":
        print(json.dumps(child_read_only(args.config)))
        return 0
    if args.child == "audit":
        audit = child_audit(args.config, args.profile, args.keep_freed_memory, args.workers)
        print(json.dumps(audit))
        return 0

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    configs, generated = {}, {}
    for size in sizes:
        folder, generated[size] = ensure_scenario(args.cache, size, args.seed, args.format)
        configs[size] = str(folder / "audit.yaml")
    reads: dict[int, list[dict]] = {size: [] for size in sizes}
    audits: dict[int, list[dict]] = {size: [] for size in sizes}
    # Rounds go through every size in turn, so that a drift of the machine's speed
    # (shared hosts) falls on every size alike rather than on the last one.
    for round_number in range(args.repeat):
        for i, size in enumerate(sizes):
            config = configs[size]
            print(
                f"{size:,} persons, round {round_number + 1}: {config}", file=sys.stderr, flush=True
            )
            read = _child(["--child", "read", "--config", config], args.timeout)
            first = round_number == 0 and i == 0
            extra = ["--profile", args.profile] if args.profile and first else []
            if args.keep_freed_memory is not None:
                extra.append(f"--{'keep' if args.keep_freed_memory else 'return'}-freed-memory")
            extra += ["--workers", str(args.workers)] if args.workers else []
            audit = _child(["--child", "audit", "--config", config, *extra], args.timeout)
            reads[size].append(read)
            audits[size].append(audit)
            print(f"  read {read}\n  audit {audit}", file=sys.stderr, flush=True)
    results = [
        {
            "size": size,
            "generate_seconds": generated[size],
            "read_only": fastest_run(reads[size]),
            "audit": median_run(audits[size]),
            "audit_runs": audits[size],
        }
        for size in sizes
    ]
    info = machine()
    print(
        f"machine: {info['cpu']}, {info['nproc']} CPUs, {info['memory_gib']} GiB, "
        f"Python {info['python']}, load average {info['load_average']}"
    )
    print(f"command: python bench/run_benchmark.py {' '.join(argv or sys.argv[1:])}")
    print(report(results))
    for note in targets(results):
        print(note)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
