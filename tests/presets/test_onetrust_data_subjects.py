"""OneTrust data subjects: nested Purposes[] exploded to one row per purpose."""

from __future__ import annotations

from prefsync_audit.config import load_mapping

from ._canonical import counts, map_fixture, observations, records, unmapped

FIXTURE = ("onetrust-data-subjects", "datasubjects_page_0.json")
PREF = "7e0a5c1d-3b2f-4e6a-8d9c-1f2e3d4c5b6a"
BANNER = "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"


def test_one_row_per_purpose_one_record_per_subject():
    mapped = map_fixture(*FIXTURE)

    # Rows are purposes (Carla, with none, is one row); records are subjects.
    assert counts(mapped) == (11, 11, 0, 0)
    assert records(mapped, "email") == [
        (1, None, "ana.lima@example.com"),
        (2, None, "ben.okafor@example.com"),
        (3, None, "carla.mendes@example.org"),
        (4, None, "david.chen@example.net"),
        (5, None, "gita.rao@gmail.com"),
        (6, None, "ivan.petrov@example.com"),
    ]
    assert observations(mapped) == [
        (1, "advertising", "*", "*", "granted", "ACTIVE", "2023-05-10T14:00:05Z", BANNER, None),
        (1, "marketing", "email", "*", "denied", "WITHDRAWN", "2024-01-15T10:30:00Z", PREF, None),
        (2, "marketing", "email", "*", "granted", "ACTIVE", "2023-02-01T12:00:00Z", PREF, None),
        (2, "marketing", "sms", "*", "denied", "HARD_OPT_OUT", "2023-11-20T08:00:00Z", PREF, None),
        # Double opt-in not confirmed: known, no choice.
        (4, "marketing", "email", "*", "unknown", "PENDING", "2024-01-02T10:00:00Z", PREF, None),
        (5, "advertising", "*", "*", "denied", "EXPIRED", "2024-01-21T00:00:00Z", BANNER, None),
        (5, "marketing", "sms", "*", "denied", "NO_CONSENT", "2023-01-20T18:00:00Z", BANNER, None),
        (6, "advertising", "*", "*", "denied", "OPT_OUT", "2024-02-25T09:00:00Z", BANNER, None),
    ]
    # A purpose name of the account that the params do not name: reported once.
    # (Strictly Necessary Cookies is ALWAYS_ACTIVE and mapped to ignore.)
    assert unmapped(mapped) == [(4, "Purposes.Name", "Product Research")]


def test_account_purposes_through_params(tmp_path):
    (tmp_path / "onetrust.yaml").write_text(
        "extends: preset:onetrust-data-subjects\n"
        "params:\n"
        "  purposes: {Product Research: personalization}\n"
        "  purpose_channels: {Product Research: email}\n"
    )
    mapped = map_fixture(*FIXTURE, load_mapping("onetrust.yaml", tmp_path))
    david = [o[1:5] for o in observations(mapped) if o[0] == 4]
    assert david == [
        ("marketing", "email", "*", "unknown"),
        ("personalization", "email", "*", "granted"),
    ]
    assert unmapped(mapped) == []
