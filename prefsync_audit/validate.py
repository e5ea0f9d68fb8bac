"""``validate``: check a config, its mappings and every export's header, collecting
every problem instead of stopping at the first."""

from __future__ import annotations

from pathlib import Path

from prefsync_audit.config import AuditConfig, load_config
from prefsync_audit.errors import AuditError, ConfigError
from prefsync_audit.load import load_file, resolve_paths
from prefsync_audit.mapper import map_file


def validate_config(
    path: str | Path, allow_outside_paths: bool = False
) -> tuple[AuditConfig | None, list[str]]:
    """The loaded config (if it loads) and every problem found."""
    try:
        config = load_config(path, allow_outside_paths=allow_outside_paths)
    except ConfigError as exc:
        return None, exc.problems
    problems: list[str] = []
    for system, settings in config.systems.items():
        mapping = config.mapping_of(system)
        if settings.database is not None:
            # The query runs without fetching a row; mapped columns must exist with a
            # type readable as text.
            from prefsync_audit.sources import check_database

            problems += check_database(
                system, settings.database, mapping, config.base_dir, config.allow_outside_paths
            )
            continue
        try:
            paths = resolve_paths(settings.paths, config.base_dir, system)
        except AuditError as exc:
            problems.append(str(exc))
            continue
        for file in paths:
            try:
                table = load_file(file, mapping, system, file)
            except AuditError as exc:
                problems.append(str(exc))
                continue
            columns = set(table.frame.columns)
            is_json = (mapping.format or file.name.lower().removesuffix(".gz")).endswith(
                ("json", "jsonl", "ndjson")
            )
            for where, column in mapping.columns_used():
                alternatives = column.split(" or ")
                if not columns.intersection(alternatives) and not is_json:
                    problems.append(
                        f"{file}: column {column!r} (mapping {where}, system "
                        f"{system}) is not in the header"
                    )
                elif not columns.intersection(alternatives) and len(table.frame):
                    problems.append(
                        f"{file}: key {column!r} (mapping {where}, system "
                        f"{system}) appears in no record"
                    )
            if not problems:
                try:
                    map_file(table, mapping, config.identity, strict_columns=not is_json)
                except AuditError as exc:
                    problems.append(str(exc))
    return config, problems
