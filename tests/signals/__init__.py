"""Tests for prefsync_audit.signals (a package so the helper encoder imports cleanly)."""
