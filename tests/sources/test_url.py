"""URLs: ``${ENV}`` expansion, masking, and scrubbing passwords out of driver messages."""

from __future__ import annotations

import pytest

from prefsync_audit.errors import InputError
from prefsync_audit.sources import mask_url, parse_url


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://audit:s3cret@db:5432/app", "postgresql://audit:***@db:5432/app"),
        ("mysql+pymysql://root:p%40ss@127.0.0.1/test", "mysql+pymysql://root:***@127.0.0.1/test"),
        ("postgresql://audit@db/app", "postgresql://audit@db/app"),
        ("sqlite:///exports/app.sqlite", "sqlite:///exports/app.sqlite"),
        (
            "failed: host=db user=x password=hunter2 port=5432",
            "failed: host=db user=x password=*** port=5432",
        ),
        (
            "see postgres://u:pw@h/d and mysql://v:pw2@h/d",
            "see postgres://u:***@h/d and mysql://v:***@h/d",
        ),
    ],
)
def test_mask_url(text: str, masked: str):
    assert mask_url(text) == masked


def test_environment_references_are_expanded_and_encoded(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PG_USER", "audit")
    monkeypatch.setenv("PG_PASSWORD", "p@ss/w:rd")
    monkeypatch.setenv("PG_HOST", "db.internal")
    url = parse_url("postgresql://${PG_USER}:${PG_PASSWORD}@${PG_HOST}:5432/app", "here")
    # In the user-info part a value is percent-encoded, so the URL stays valid.
    assert url.url == "postgresql://audit:p%40ss%2Fw%3Ard@db.internal:5432/app"
    assert url.masked == "postgresql://audit:***@db.internal:5432/app"
    assert (url.scheme, url.dialect, url.driver) == ("postgresql", "postgresql", None)
    message = "FATAL: password p@ss/w:rd rejected for postgresql://audit:p%40ss%2Fw%3Ard@db/app"
    assert "p@ss" not in url.scrub(message) and "p%40ss" not in url.scrub(message)


def test_a_whole_url_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", "mysql+pymysql://app:t%2Fop@db/shop")
    url = parse_url("${DATABASE_URL}", "here")
    assert url.url == "mysql+pymysql://app:t%2Fop@db/shop"
    assert url.driver == "pymysql"
    assert "t/op" not in url.scrub("Access denied (password t/op)")


def test_a_missing_variable_names_the_place_and_not_a_value(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    with pytest.raises(InputError) as error:
        parse_url("postgresql://a:${NO_SUCH_PASSWORD}@db/app", "systems.crm.database.url")
    assert str(error.value) == (
        "systems.crm.database.url: environment variable NO_SUCH_PASSWORD is not set"
    )


def test_scrub_keeps_one_line():
    url = parse_url("postgresql://a:verysecret@db/app", "here")
    assert url.scrub("first verysecret line\n\tDETAIL: second") == "first *** line"
