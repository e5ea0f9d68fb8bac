"""HubSpot contacts: hs_email_optout and a column pattern over hs_email_optout_<id>."""

from __future__ import annotations

from prefsync_audit.config import load_mapping

from ._canonical import counts, map_fixture, observations, records, unmapped

FIXTURE = ("hubspot-contacts", "contacts.csv")
T1, T2, T3 = "2024-01-15T10:35:12.204000Z", "2024-01-05T11:02:33.511000Z", "2024-02-12T08:30:00Z"
T5 = "2024-02-20T17:05:00Z"


def test_every_subscription_type_column_with_the_id_as_scope():
    mapped = map_fixture(*FIXTURE)

    assert counts(mapped) == (5, 5, 0, 0)
    assert records(mapped, "email", "phone") == [
        (1, "51", "ana.lima@example.com", "+14155550132"),
        (2, "52", "ben.okafor@example.com", None),
        (3, "53", "carla.mendes@example.org", None),
        (4, "54", None, "+12125550148"),
        (5, "55", "hannah.berg@example.com", None),
    ]
    assert observations(mapped) == [
        (1, "marketing", "email", "*", "denied", "true", T1, None, None),
        (2, "marketing", "email", "*", "granted", "false", T2, None, None),
        (2, "marketing", "email", "2188943", "granted", "false", T2, None, None),
        (2, "marketing", "email", "2188944", "granted", "false", T2, None, None),
        (3, "marketing", "email", "*", "granted", "false", T3, None, None),
        (3, "marketing", "email", "2188943", "denied", "true", T3, None, None),
        (3, "marketing", "email", "2188944", "granted", "false", T3, None, None),
        (3, "marketing", "email", "7301155", "granted", "false", T3, None, None),
        (5, "marketing", "email", "*", "granted", "false", T5, None, None),
        # Not a boolean spelling: unknown, never granted, and reported.
        (5, "marketing", "email", "2188944", "unknown", "yes please", T5, None, None),
    ]
    assert unmapped(mapped) == [(5, "hs_email_optout_2188944", "yes please")]


def test_subscription_types_named_through_params(tmp_path):
    (tmp_path / "hubspot.yaml").write_text(
        "extends: preset:hubspot-contacts\n"
        "params:\n"
        "  subscription_types:\n"
        '    "2188943": newsletter\n'
        '    "2188944": product_updates\n'
    )
    mapped = map_fixture(*FIXTURE, load_mapping("hubspot.yaml", tmp_path))

    scopes = sorted({(o[0], o[3], o[4]) for o in observations(mapped)})
    assert scopes == [
        (1, "*", "denied"),
        (2, "*", "granted"),
        (2, "newsletter", "granted"),
        (2, "product_updates", "granted"),
        (3, "*", "granted"),
        (3, "newsletter", "denied"),
        (3, "product_updates", "granted"),
        (5, "*", "granted"),
        (5, "product_updates", "unknown"),
    ]
    # The type left out of the map is reported (its non-blank cells), not guessed.
    assert unmapped(mapped) == [
        (3, "hs_email_optout_7301155", "7301155"),
        (5, "hs_email_optout_2188944", "yes please"),
    ]
