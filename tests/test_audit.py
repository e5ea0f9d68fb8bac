"""``audit``: the order tables are read in with several workers, which error wins, and
the exports' size that decides whether freed memory is kept."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from pathlib import Path

import pytest

from prefsync_audit.audit import (
    COMPRESSED_AS,
    _size_of,
    exports_size,
    load_canonical,
    mapped_tables,
)
from prefsync_audit.config import load_config
from prefsync_audit.errors import InputError

MINI = Path(__file__).parent / "fixtures" / "mini"


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    shutil.copytree(MINI, tmp_path / "mini")
    return tmp_path / "mini"


def test_tables_come_back_in_config_order_whatever_the_workers(mini: Path):
    # The last system's file made the largest: with two workers it is read first.
    ads = mini / "exports" / "ads.csv"
    ads.write_text(ads.read_text() + "".join(f"p{i}@example.com\n" for i in range(5000)))
    config = load_config(mini / "audit.yaml")
    one, two = mapped_tables(config, workers=1), mapped_tables(config, workers=2)
    assert [table.system for table, _ in two] == [table.system for table, _ in one]
    assert [table.system for table, _ in one] == ["cmp", "esp", "ads"]
    for (table_1, mapped_1), (table_2, mapped_2) in zip(one, two, strict=True):
        assert table_2.path == table_1.path and table_2.sha256 == table_1.sha256
        assert mapped_2.records.equals(mapped_1.records)
        # Only the provenance of a table is kept past mapping, not its text.
        assert table_2.frame.empty and table_1.frame.empty
    assert load_canonical(config, workers=2).records.equals(load_canonical(config).records)


def test_the_error_is_that_of_the_first_file_read(mini: Path):
    # Both files lack a mapped column; esp's is the larger.
    (mini / "exports" / "cmp.csv").write_text("Email,Status\na@example.com,ACTIVE\n")
    (mini / "exports" / "esp.csv").write_text(
        "email,optout\n" + "".join(f"p{i}@example.com,false\n" for i in range(200))
    )
    config = load_config(mini / "audit.yaml")
    with pytest.raises(InputError, match=r"cmp\.csv: mapped column\(s\) not in the file"):
        load_canonical(config, workers=1)  # config order
    with pytest.raises(InputError, match=r"esp\.csv: mapped column\(s\) not in the file"):
        load_canonical(config, workers=2)  # the largest file first


def test_size_of_a_source(tmp_path: Path):
    file = tmp_path / "export.csv"
    file.write_text("a,b\n1,2\n")
    assert _size_of(file) == 8
    assert _size_of(tmp_path / "missing.csv") == 0  # reading it fails in its turn
    assert _size_of(None) == float("inf")  # a database query: size unknown


def test_exports_size_counts_text_and_compressed_files(mini: Path):
    exports = mini / "exports"
    text_size = sum((exports / f"{name}.csv").stat().st_size for name in ("cmp", "esp", "ads"))
    assert exports_size(load_config(mini / "audit.yaml")) == text_size

    # esp's export gzipped and ads' in a zip archive of two members: each counted
    # COMPRESSED_AS times its size on disk, the archive once.
    (exports / "esp.csv.gz").write_bytes(gzip.compress((exports / "esp.csv").read_bytes()))
    with zipfile.ZipFile(exports / "ads.zip", "w") as archive:
        archive.write(exports / "ads.csv", "part1.csv")
        archive.write(exports / "ads.csv", "part2.csv")
    config_text = (mini / "audit.yaml").read_text()
    config_text = config_text.replace("exports/esp.csv", "exports/esp.csv.gz")
    config_text = config_text.replace("exports/ads.csv", "exports/ads.zip")
    (mini / "audit.yaml").write_text(config_text)
    config = load_config(mini / "audit.yaml")
    compressed = (exports / "esp.csv.gz").stat().st_size + (exports / "ads.zip").stat().st_size
    assert exports_size(config) == (exports / "cmp.csv").stat().st_size + compressed * COMPRESSED_AS
    assert len(load_canonical(config).records) > 0  # the config reads those files


def test_exports_size_of_a_database_source_is_unknown(mini: Path):
    config_text = (
        (mini / "audit.yaml")
        .read_text()
        .replace(
            "    paths: exports/ads.csv\n",
            "    database: {url: 'sqlite:///x.db', query: 'select 1'}\n",
        )
    )
    (mini / "audit.yaml").write_text(config_text)
    assert exports_size(load_config(mini / "audit.yaml")) == float("inf")
