"""Compressed exports: ZIP archives (Mailchimp's audience export is one) and gzip.

A system's path that is a ``.zip`` file stands for the data files inside it.
Each member is named by a *member path*, ``<archive>.zip:<member name>``
(``exports/audience.zip:subscribed_email_audience_export_3f2a.csv``), which
travels through the pipeline like a file path: it is the provenance shown in
reports, and its last part is the name ``file_name_fields`` read.

The archive is untrusted input. Before anything is read it is refused when a
member has an absolute path, a drive letter or a ``..`` part (path traversal),
or when the data members would expand past :data:`MAX_UNCOMPRESSED_BYTES`
(a decompression bomb). Members are only ever read into memory, never
extracted to disk; their declared sizes bound what is read (``zipfile``
stops at the declared size and checks the CRC). An archive of more than
:data:`MAX_MEMBERS` data files is refused too.

A ``.gz`` file (or member) is decompressed in steps and refused as soon as it
expands past the same :data:`MAX_UNCOMPRESSED_BYTES`, so a gzip bomb costs
the limit, never the machine; a truncated or corrupt stream is an error that
says so, never a partial file read as if it were whole.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from prefsync_audit.errors import InputError

#: The most a ZIP's data members may expand to, in total (bytes).
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3

#: The most data files one archive may hold.
MAX_MEMBERS = 10_000

#: How much a gzip stream is inflated per step (bytes).
_GZIP_STEP = 1 << 24

#: Separates the archive from the member in a member path.
SEPARATOR = ":"

#: Extensions of the members read from an archive (each may end in ``.gz``).
DATA_EXTENSIONS = (".csv", ".tsv", ".txt", ".json", ".jsonl", ".ndjson", ".parquet", ".pq")

_ARCHIVE_IN_PATH = re.compile(r"\.zip" + SEPARATOR, re.IGNORECASE)
_DRIVE = re.compile(r"^[A-Za-z]:")


def is_archive(path: Path) -> bool:
    """True for a ``.zip`` file (by name; the content is checked when listed)."""
    return path.suffix.lower() == ".zip"


def split_member(path: Path) -> tuple[Path, str] | None:
    """``(archive, member name)`` for a member path, ``None`` for an ordinary path."""
    text = str(path)
    for match in _ARCHIVE_IN_PATH.finditer(text):
        archive = Path(text[: match.start() + 4])
        if archive.is_file():
            return archive, text[match.end() :]
    return None


def _unsafe(name: str) -> bool:
    posix = name.replace("\\", "/")
    return (
        posix.startswith("/")
        or bool(_DRIVE.match(posix))
        or ".." in PurePosixPath(posix).parts
        or "\x00" in name
    )


def _is_data_member(name: str) -> bool:
    parts = PurePosixPath(name).parts
    if not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
        return False
    lowered = name.lower().removesuffix(".gz")
    return lowered.endswith(DATA_EXTENSIONS)


def _open(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"{archive}: not a readable ZIP archive ({exc})") from None


def archive_members(archive: Path) -> list[Path]:
    """The member paths of the archive's data files (CSV, TSV, JSON, JSONL, Parquet),
    sorted by name; folders, hidden files and ``__MACOSX`` are skipped.

    Raises :class:`InputError` for an unreadable archive, an unsafe member name,
    a total size past the limit, or an archive without data files.
    """
    with _open(archive) as zf:
        infos = zf.infolist()
    unsafe = [info.filename for info in infos if _unsafe(info.filename)]
    if unsafe:
        raise InputError(
            f"{archive}: member {unsafe[0]!r} has an absolute path or '..' "
            "(path traversal); the archive is refused"
        )
    members = [i for i in infos if not i.is_dir() and _is_data_member(i.filename)]
    total = sum(info.file_size for info in members)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise InputError(
            f"{archive}: members expand to {total} bytes, more than the limit of "
            f"{MAX_UNCOMPRESSED_BYTES} (a decompression bomb?); the archive is refused"
        )
    if len(members) > MAX_MEMBERS:
        raise InputError(
            f"{archive}: {len(members)} data files, more than the limit of {MAX_MEMBERS}; "
            "the archive is refused"
        )
    if not members:
        raise InputError(f"{archive}: no CSV, TSV, JSON, JSONL or Parquet file in the archive")
    return [Path(f"{archive}{SEPARATOR}{name}") for name in sorted(i.filename for i in members)]


def read_member(archive: Path, name: str) -> bytes:
    """The bytes of one member (checked against the same limits as the listing)."""
    if _unsafe(name):
        raise InputError(f"{archive}: member {name!r} has an unsafe path; refused")
    with _open(archive) as zf:
        try:
            info = zf.getinfo(name)
        except KeyError:
            raise InputError(f"{archive}: no member {name!r} in the archive") from None
        if info.file_size > MAX_UNCOMPRESSED_BYTES:
            raise InputError(
                f"{archive}:{name}: expands to {info.file_size} bytes, more than the limit of "
                f"{MAX_UNCOMPRESSED_BYTES}; refused"
            )
        try:
            with zf.open(info) as member:
                return member.read(MAX_UNCOMPRESSED_BYTES + 1)
        except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as exc:
            # RuntimeError: an encrypted member; BadZipFile: a CRC or size mismatch.
            raise InputError(f"{archive}:{name}: cannot read the member ({exc})") from None


def gunzip(data: bytes, path: object, limit: int | None = None) -> bytes:
    """The content of a gzip file (every member of a multi-member file), refused
    past ``limit`` bytes (default :data:`MAX_UNCOMPRESSED_BYTES`)."""
    limit = MAX_UNCOMPRESSED_BYTES if limit is None else limit
    chunks: list[bytes] = []
    total = 0
    rest = data
    while True:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
        pending = rest
        while not inflater.eof:
            try:
                piece = inflater.decompress(pending, _GZIP_STEP)
            except zlib.error as exc:
                raise InputError(f"{path}: not a valid gzip file ({exc})") from None
            total += len(piece)
            if total > limit:
                raise InputError(
                    f"{path}: expands to more than the limit of {limit} bytes "
                    "(a decompression bomb?); refused"
                )
            chunks.append(piece)
            pending = inflater.unconsumed_tail
            if not piece and not pending and not inflater.eof:
                raise InputError(
                    f"{path}: not a valid gzip file (truncated: the stream ends after "
                    f"{total} bytes of data, {len(data)} bytes stored)"
                )
        rest = inflater.unused_data
        # Some tools pad a gzip file with zero bytes; anything else is another member.
        if not rest.strip(b"\x00"):
            return b"".join(chunks)
