"""Value normalizers: identifiers, timestamps and vocabularies.

Every function here works on a whole column and normalizes each *distinct*
value once (exports repeat values a lot: statuses, dates, shared emails), then
maps the results back. Invalid values become missing, never a guess.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from prefsync_audit._codes import (
    ASCII_SPACE,
    SPACE_CLASS,
    arrow_text,
    ascii_stripped,
    in_arrow,
    mostly_distinct,
    objects,
)
from prefsync_audit._phones import fast_phones
from prefsync_audit.mapping import HashProfile, StateTarget, TimestampSpec

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{9,14}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_HAS_OFFSET = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)
_GMAIL_DOMAINS = ("gmail.com", "googlemail.com")

#: The lowest and highest timestamps accepted as real (others are typos or sentinels).
EARLIEST = pd.Timestamp("1990-01-01", tz="UTC")
LATEST = pd.Timestamp("2100-01-01", tz="UTC")

#: A vectorized normalizer: given texts, ``(results, decided)`` — the result of
#: each text (Arrow text, null for an invalid value) where ``decided`` is true.
Vectorized = Callable[[pa.Array], tuple[pa.Array, np.ndarray]]


def map_distinct(
    values: pd.Series,
    function: Callable[[str], object],
    vectorized: Vectorized | None = None,
) -> pd.Series:
    """Apply ``function`` once per distinct non-missing value of ``values``.

    ``vectorized`` (optional) decides many distinct values at once: given them
    as an Arrow array it returns ``(results, decided)`` (Arrow text and a numpy
    mask); ``function`` then runs only on the values it left undecided. Such
    results (identifiers: mostly distinct) come back in Arrow, pandas' ``str``
    with missing values NaN; the others as ``str``/``None`` objects.
    """
    if vectorized is not None and _arrow_distinct(values):
        return _map_rows(values, function, vectorized)
    codes, texts = distinct_texts(values)
    if not texts:
        return pd.Series([None] * len(values), index=values.index, dtype="object")
    if vectorized is not None:
        decided = _decide(pa.array(texts, pa.large_string()), function, vectorized)
        return arrow_text(decided.take(pa.array(codes, mask=codes < 0)), values.index)
    results = np.empty(len(texts) + 1, dtype=object)
    results[-1] = None  # code -1: a missing value
    results[:-1] = [function(text) for text in texts]
    return pd.Series(results[codes], index=values.index, dtype="object")


def distinct_texts(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's code (-1: missing) and each distinct value as a Python string,
    for a function applied once per distinct value."""
    codes, uniques = pd.factorize(values)
    # Plain Python strings and a list comprehension: iterating an Arrow-backed array
    # or mapping through a dict costs more than the normalizers themselves.
    return codes, [str(value) for value in np.asarray(uniques, dtype=object).tolist()]


def _decide(
    texts: pa.Array,
    function: Callable[[str], object],
    vectorized: Vectorized,
) -> pa.Array:
    """Each text's result, as Arrow text: from ``vectorized`` where it decides,
    else from ``function``, called once per distinct undecided text."""
    results, decided = vectorized(texts)
    rest = np.flatnonzero(~decided)
    if len(rest):
        codes, uniques = pd.factorize(objects(texts.take(pa.array(rest))))
        undecided = np.full(len(texts), None, dtype=object)
        undecided[rest] = np.array([function(str(u)) for u in uniques] + [None], object)[codes]
        results = pc.if_else(pa.array(decided), results, pa.array(undecided, results.type))
    return results


def _map_rows(
    values: pd.Series,
    function: Callable[[str], object],
    vectorized: Vectorized,
) -> pd.Series:
    """``map_distinct`` for a column of mostly distinct values already in Arrow:
    every row goes through ``vectorized`` as it is (finding the distinct values
    first would cost more than it saves); ``function`` decides the rest, once
    per distinct value. The results stay in Arrow (``str``, missing values NaN):
    as Python strings they would cost memory and a conversion back later."""
    present = values.notna().to_numpy()
    texts = pa.array(values[present] if not present.all() else values).cast(pa.large_string())
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    results = _decide(texts, function, vectorized)
    if not present.all():
        results = pc.replace_with_mask(
            pa.nulls(len(values), results.type), pa.array(present), results
        )
    return arrow_text(results, values.index)


_ASCII_EMAIL = rf"^[^@{SPACE_CLASS}]+@[^@{SPACE_CLASS}]+\.[^@{SPACE_CLASS}]+$"


def fast_emails(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``normalize_email`` for the ASCII values of a column at once (lowercasing
    ASCII needs no Unicode rules and ASCII text is already NFC); other values
    are left undecided."""
    decided, stripped = ascii_stripped(texts)
    emails = pc.ascii_lower(stripped)
    valid = pc.fill_null(pc.match_substring_regex(emails, _ASCII_EMAIL), False)
    return pc.if_else(valid, emails, None), decided


def normalize_email(value: str) -> str | None:
    """Trim, lowercase, Unicode NFC; ``None`` when it is not an email address."""
    # Lowercase before composing: lowering a composed character (``Ϊ́``) can leave
    # text that is no longer NFC, and a second pass would then change it.
    email = unicodedata.normalize("NFC", value.strip().lower())
    return email if _EMAIL.match(email) else None


def apply_email_profile(email: str, profile: HashProfile) -> str:
    """Google removes dots and ``+suffix`` from Gmail local parts before hashing."""
    if profile == "google":
        local, _, domain = email.rpartition("@")
        if domain in _GMAIL_DOMAINS:
            local = local.split("+", 1)[0].replace(".", "")
            return f"{local}@{domain}"
    return email


_FORMATTING = re.compile(r"^[\d\s().+-]+$")
_NOT_DIGIT = re.compile(r"\D")


def _nanp_national(text: str) -> str | None:
    """The 10-digit national number of a North American phone number written with
    digits and punctuation only (``(212) 555-0123``, ``1-212-555-0123``,
    ``+1 212 555 0123``); None when the text is not of that shape."""
    digits = _NOT_DIGIT.sub("", text)
    if len(digits) == 11 and digits[0] == "1":
        return digits[1:]
    if len(digits) == 10 and not text.startswith("+"):
        return digits
    return None


def make_phone_normalizer(default_region: str) -> Callable[[str], str | None]:
    """A normalizer to E.164 that assumes ``default_region`` for national numbers."""
    # North American numbers written with only digits and punctuation are read
    # directly (the same result as phonenumbers.parse, three times faster): they
    # are most of a US CRM's phone column.
    nanp = phonenumbers.country_code_for_region(default_region.upper()) == 1

    def normalize_phone(value: str) -> str | None:
        text = value.strip()
        # Fast path: numbers exported already in E.164 need no parsing.
        if _E164.match(text):
            return text
        if nanp and _FORMATTING.match(text):
            national = _nanp_national(text)
            if national is not None:
                number = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
                return f"+1{national}" if phonenumbers.is_valid_number(number) else None
        try:
            number = phonenumbers.parse(text, default_region)
        except phonenumbers.NumberParseException:
            return None
        if not phonenumbers.is_valid_number(number):
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    return normalize_phone


def apply_phone_profile(phone: str, profile: HashProfile) -> str:
    """Meta hashes phone numbers as digits with country code and no ``+``."""
    return phone.lstrip("+") if profile == "meta" else phone


def apply_profile(kind: str, values: pa.Array, profile: HashProfile) -> pa.Array:
    """``apply_email_profile`` (``kind`` email) or ``apply_phone_profile`` over
    Arrow strings, in Arrow: only the values the profile can change change."""
    if kind == "email":
        if profile != "google":
            return values
        for domain in _GMAIL_DOMAINS:
            at_domain = "@" + domain
            changing = pc.fill_null(pc.ends_with(values, at_domain), False)
            if not pc.any(changing).as_py():
                continue
            local = pc.utf8_slice_codeunits(pc.filter(values, changing), 0, -len(at_domain))
            # Up to the first ``+`` (``(?s)``: a line break does not end the suffix).
            local = pc.replace_substring_regex(local, r"(?s)\+.*", "")
            local = pc.replace_substring(local, ".", "")
            suffix = pa.scalar(at_domain, local.type)
            applied = pc.binary_join_element_wise(local, suffix, pa.scalar("", local.type))
            values = pc.replace_with_mask(values, changing, applied)
        return values
    if profile != "meta":
        return values
    return pc.utf8_ltrim(values, characters="+")


def normalize_id(value: str) -> str | None:
    text = value.strip()
    return text or None


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_hash_normalizer(
    plain_kind: str, profile: HashProfile, default_region: str
) -> Callable[[str], str | None]:
    """Hashed identifiers: lowercase hex, or hash a plain value the platform's way.

    Audiences accept plain values too (Customer Match hashes them on upload),
    so a value that is not 64 hex digits is normalized as ``plain_kind`` and
    hashed under ``profile``.
    """
    phone = make_phone_normalizer(default_region)

    def normalize_hash(value: str) -> str | None:
        text = value.strip()
        if _HEX64.match(text):
            return text.lower()
        if plain_kind == "email":
            email = normalize_email(text)
            return sha256_hex(apply_email_profile(email, profile)) if email else None
        if plain_kind == "phone":
            number = phone(text)
            return sha256_hex(apply_phone_profile(number, profile)) if number else None
        return sha256_hex(text) if text else None

    return normalize_hash


def identifier_normalizer(
    kind: str, normalizer: str, profile: HashProfile, default_region: str
) -> Callable[[str], str | None]:
    if normalizer == "email":
        return normalize_email
    if normalizer == "phone":
        return make_phone_normalizer(default_region)
    if normalizer == "sha256":
        return make_hash_normalizer(kind.removesuffix("_sha256"), profile, default_region)
    if normalizer == "none":
        return lambda value: value
    return normalize_id


def _fast_hashes(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Values that already are 64 hex digits (the usual audience export), at once."""
    ascii_text, stripped = ascii_stripped(texts)
    hexes = pc.fill_null(pc.match_substring_regex(stripped, "^[0-9a-fA-F]{64}$"), False)
    decided = ascii_text & hexes.to_numpy(zero_copy_only=False)
    return pc.if_else(pa.array(decided), pc.ascii_lower(stripped), None), decided


def _fast_ids(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``normalize_id`` for ASCII values at once."""
    decided, stripped = ascii_stripped(texts)
    return pc.if_else(pc.equal(stripped, ""), None, stripped), decided


def identifier_fast_path(normalizer: str, default_region: str) -> Vectorized | None:
    """The vectorized part of ``identifier_normalizer`` (see ``map_distinct``):
    the common spellings of a column decided at once, the same way."""
    if normalizer == "email":
        return fast_emails
    if normalizer == "phone":
        nanp = phonenumbers.country_code_for_region(default_region.upper()) == 1
        return lambda texts: fast_phones(texts, nanp)
    if normalizer == "sha256":
        return _fast_hashes
    if normalizer == "id":
        return _fast_ids
    return None


def vocabulary_key(value: str) -> str:
    """Case- and space-insensitive form used to look values up in vocabularies."""
    return " ".join(str(value).split()).casefold()


BOOLEAN_VOCABULARY: dict[str, StateTarget] = {
    **dict.fromkeys(["true", "t", "yes", "y", "1", "on", "checked", "opted in"], "granted"),
    **dict.fromkeys(["false", "f", "no", "n", "0", "off", "unchecked", "opted out"], "denied"),
}
SMS_KEYWORDS_VOCABULARY: dict[str, StateTarget] = {
    **dict.fromkeys(
        [
            "stop",
            "stopall",
            "unsubscribe",
            "cancel",
            "end",
            "quit",
            "revoke",
            "optout",
            "opt out",
            "opt-out",
        ],
        "denied",
    ),
    **dict.fromkeys(["start", "yes", "unstop", "subscribe"], "granted"),
    **dict.fromkeys(["help", "info"], "ignore"),
}
BUILTIN_VOCABULARIES: dict[str, dict[str, StateTarget]] = {
    "boolean": BOOLEAN_VOCABULARY,
    "sms_keywords": SMS_KEYWORDS_VOCABULARY,
}


def parse_timestamps(values: pd.Series, spec: TimestampSpec) -> tuple[pd.Series, pd.Series]:
    """Parse a column of text timestamps to UTC.

    Returns ``(timestamps, bad)``: ``bad`` marks values that were present but
    could not be read, or fall outside 1990–2100 (sentinels such as
    ``1900-01-01`` or ``9999-12-31`` are not real preference times).
    """
    if _arrow_ascii_distinct(values):
        # Times to the second hardly repeat: finding the distinct ones would cost
        # more than parsing each row in Arrow. (ASCII: stripped as Python strips.)
        present = values.notna().to_numpy()
        codes = np.full(len(values), -1, dtype=np.int64)
        codes[present] = np.arange(np.count_nonzero(present))
        texts = values if present.all() else values[present]
        uniques = texts.reset_index(drop=True).str.strip(ASCII_SPACE)
        parsed = _parse_distinct(uniques, spec, stripped=True)
    else:
        codes, texts = distinct_texts(values)
        parsed = _parse_distinct(pd.Series(texts, dtype="object"), spec)
    # Outside 1990–2100 is NaT (NaT compares false); then each row's parsed value
    # is looked up by its code, code -1 (missing) giving NaT.
    stamps = parsed.to_numpy(dtype="datetime64[ns]")
    in_range = (stamps >= EARLIEST.to_datetime64()) & (stamps < LATEST.to_datetime64())
    table = np.append(np.where(in_range, stamps, np.datetime64("NaT", "ns")), np.datetime64("NaT"))
    result = pd.Series(
        pd.DatetimeIndex(table[codes]).tz_localize("UTC"), index=values.index
    ).astype("datetime64[ns, UTC]")
    bad = pd.Series((codes >= 0), index=values.index) & result.isna()
    return result, bad


def _arrow_distinct(values: pd.Series) -> bool:
    """Text in Arrow whose sampled values are mostly distinct."""
    return in_arrow(values) and mostly_distinct(values)


def _arrow_ascii_distinct(values: pd.Series) -> bool:
    """ASCII text in Arrow whose sampled values are mostly distinct."""
    if not _arrow_distinct(values):
        return False
    return pc.all(pc.string_is_ascii(pa.array(values))).as_py() is not False


def _parse_distinct(uniques: pd.Series, spec: TimestampSpec, stripped: bool = False) -> pd.Series:
    """Each text parsed to UTC (NaT when unreadable); ``stripped``: the texts
    hold no surrounding whitespace already."""
    text = uniques if stripped else uniques.str.strip()
    fmt = spec.format
    if fmt in ("epoch_s", "epoch_ms"):
        numbers = pd.to_numeric(text, errors="coerce")
        unit = "s" if fmt == "epoch_s" else "ms"
        limit = 4.2e9 if unit == "s" else 4.2e12  # beyond year 2100
        numbers = numbers.where((numbers.abs() < limit) & np.isfinite(numbers))
        return pd.to_datetime(numbers, unit=unit, utc=True, errors="coerce").astype(
            "datetime64[ns, UTC]"
        )
    result = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if fmt == "iso8601":
        texts = pa.array(text).cast(pa.string())
        common = {"format": "ISO8601", "errors": "coerce"}
        rest = ~_iso_in_arrow(texts, spec.timezone, result)
        # One regex pass in Arrow tells which of the rest carry their own offset.
        aware = np.zeros(len(texts), dtype=bool)
        if rest.any():
            rest_rows = np.flatnonzero(rest)
            has_offset = pc.match_substring_regex(
                texts.take(pa.array(rest_rows)), _HAS_OFFSET.pattern, ignore_case=True
            )
            aware[rest_rows] = pc.fill_null(has_offset, False).to_numpy(zero_copy_only=False)
    else:
        common = {"format": fmt, "errors": "coerce"}
        rest = np.ones(len(text), dtype=bool)
        aware = rest & ("%z" in fmt or "%Z" in fmt)
    if aware.any():
        parsed = pd.to_datetime(text[aware], utc=True, **common)
        result[aware] = _to_ns(parsed)
    naive_rows = rest & ~aware
    if naive_rows.any():
        naive = pd.to_datetime(text[naive_rows], **common)
        if getattr(naive.dt, "tz", None) is None:
            naive = naive.dt.tz_localize(
                spec.timezone, ambiguous="NaT", nonexistent="shift_forward"
            )
        result[naive_rows] = _to_ns(naive.dt.tz_convert("UTC"))
    return result


#: The everyday ISO 8601 shape (years 1900-2099, seconds, optional fraction),
#: with an offset and without: Arrow's parser reads it the same way pandas
#: does, only faster.
_PLAIN_ISO = r"^(19|20)\d{2}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?"
_ZONED_ISO = _PLAIN_ISO + r"(Z|[+-]\d{2}:\d{2})$"
_NAIVE_ISO = _PLAIN_ISO + "$"


def _iso_in_arrow(values: pa.Array, timezone: str, result: pd.Series) -> np.ndarray:
    """Parse the values of the plain ISO 8601 shape in Arrow, writing them into
    ``result``; returns which values it parsed (the rest go through pandas)."""
    decided = np.zeros(len(values), dtype=bool)
    undecided = np.arange(len(values))
    for zoned in (True, False):
        # Each shape is tested on the values the one before left: an export
        # mostly writes one shape, and a regex pass over millions costs.
        if not len(undecided):
            break
        candidates = values if zoned else values.take(pa.array(undecided))
        shape = _ZONED_ISO if zoned else _NAIVE_ISO
        chosen = pc.fill_null(pc.match_substring_regex(candidates, shape), False)
        mask = chosen.to_numpy(zero_copy_only=False)
        if not mask.any():
            continue
        rows = undecided[mask]
        undecided = undecided[~mask]
        subset = candidates.filter(chosen)
        try:
            parsed = subset.cast(pa.timestamp("ns", tz="UTC" if zoned else None))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue  # an impossible date among them: pandas decides each one
        # Stay in numpy datetime64 (UTC): boxing tz-aware values costs more than parsing.
        stamps = pd.DatetimeIndex(parsed.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False))
        if zoned:
            stamps = stamps.tz_localize("UTC")
        else:
            stamps = stamps.tz_localize(
                timezone, ambiguous="NaT", nonexistent="shift_forward"
            ).tz_convert("UTC")
        result.iloc[rows] = stamps
        decided[rows] = True
    return decided


def _to_ns(parsed: pd.Series) -> pd.Series:
    """Cast to nanoseconds, dropping values outside 1990–2100 first: pandas may parse
    sentinels such as ``9999-12-31`` at a coarser unit, and they overflow nanoseconds."""
    parsed = parsed.where((parsed >= EARLIEST) & (parsed < LATEST))
    return parsed.astype("datetime64[ns, UTC]")
