"""Tests for prefsync_audit.report (a package so the test helpers import cleanly)."""
