"""prefsync-audit: audit whether every system honours every privacy preference."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["AuditResult", "__version__", "load_config", "run_audit"]


def __getattr__(name: str):  # pragma: no cover - thin lazy import
    # Lazy so that `import prefsync_audit.signals` stays free of pandas.
    if name in {"run_audit", "AuditResult"}:
        from prefsync_audit import audit

        return getattr(audit, name)
    if name == "load_config":
        from prefsync_audit.config import load_config

        return load_config
    raise AttributeError(name)
