"""Vectorized phone normalization for the common spellings of a column.

Phone columns are mostly distinct values (one number per person), so the
per-value ``phonenumbers.parse`` dominates mapping time on large exports. Two
shapes cover nearly every value of a North American CRM and are decided here
for the whole column at once, with the same answer ``phonenumbers`` gives:

* text already in E.164 (``+12125550123``), kept as it is;
* a North American number written with digits and punctuation only
  (``(212) 555-0123``, ``1-212-555-0123``, ``+1 212 555 0123``), validated
  against libphonenumber's own metadata patterns, run as one RE2 pass per
  pattern over the column (``is_valid_number``'s rules, region by region).

Anything else (other countries, letters, non-ASCII text) is left for the
per-value normalizer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from prefsync_audit._codes import SPACE_CLASS, ascii_stripped

_E164 = r"^\+[1-9][0-9]{9,14}$"
_DIGITS_AND_PUNCTUATION = rf"^[0-9{SPACE_CLASS}().+-]+$"
_NUMBER_TYPES = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_NATIONAL_LENGTH = 10


@dataclass(frozen=True)
class _RegionRule:
    """One NANP region as ``is_valid_number`` reads it for 10-digit numbers."""

    leading_digits: str | None
    general: str | None
    any_type: str | None


@cache
def _nanp_rules() -> tuple[_RegionRule, ...]:
    """The regions sharing country code 1, in libphonenumber's order."""
    rules = []
    for region in COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        types = [
            _pattern(getattr(metadata, name))
            for name in _NUMBER_TYPES
            if not (name == "mobile" and metadata.same_mobile_and_fixed_line_pattern)
        ]
        types = [t for t in types if t]
        leading = metadata.leading_digits
        rules.append(
            _RegionRule(
                leading_digits=f"^(?:{leading})" if leading else None,
                general=_pattern(metadata.general_desc),
                any_type="^(?:" + "|".join(f"(?:{t})" for t in types) + ")$" if types else None,
            )
        )
    return tuple(rules)


def _pattern(desc: object) -> str | None:
    """A description's pattern if a 10-digit number can match it."""
    if desc is None or not desc.national_number_pattern:
        return None
    lengths = desc.possible_length
    if lengths and _NATIONAL_LENGTH not in lengths:
        return None
    return desc.national_number_pattern


def _matches(values: pa.Array, pattern: str | None, anchored: bool = True) -> np.ndarray:
    if pattern is None:
        return np.zeros(len(values), dtype=bool)
    full = f"^(?:{pattern})$" if anchored else pattern
    return pc.match_substring_regex(values, full).to_numpy(zero_copy_only=False).astype(bool)


def _type_valid(nationals: pa.Array, rule: _RegionRule) -> np.ndarray:
    valid = _matches(nationals, rule.general)
    if valid.any() and rule.any_type is not None:
        valid &= _matches(nationals, rule.any_type, anchored=False)
    else:
        valid[:] = False
    return valid


def nanp_valid(nationals: pa.Array) -> np.ndarray:
    """Whether each 10-digit national number is a valid +1 number.

    ``phonenumbers.is_valid_number`` finds the region first (the first region
    whose leading digits match, or whose patterns accept the number) and then
    validates against that region alone; this does the same, column-wise.
    """
    valid = np.zeros(len(nationals), dtype=bool)
    undecided = np.ones(len(nationals), dtype=bool)
    for rule in _nanp_rules():
        positions = np.flatnonzero(undecided)
        if not len(positions):
            break
        candidates = nationals.take(pa.array(positions))
        if rule.leading_digits is not None:
            # The region claims its leading digits, valid or not.
            claimed = positions[_matches(candidates, rule.leading_digits, anchored=False)]
            valid[claimed] = _type_valid(nationals.take(pa.array(claimed)), rule)
        else:
            claimed = positions[_type_valid(candidates, rule)]
            valid[claimed] = True
        undecided[claimed] = False
    return valid


def fast_phones(texts: pa.Array, nanp: bool) -> tuple[pa.Array, np.ndarray]:
    """Normalize the values of ``texts`` that have a common shape.

    Returns ``(results, decided)``: ``results`` (Arrow text) holds the E.164
    number (or null for an invalid one) where ``decided`` is true; the other
    values need the per-value normalizer.
    """
    n = len(texts)
    if not n:
        return pa.array([], pa.large_string()), np.zeros(0, dtype=bool)
    ascii_text, stripped = ascii_stripped(texts)
    e164 = ascii_text & _matches(stripped, _E164, anchored=False)
    decided = e164.copy()
    results = pc.if_else(pa.array(e164), stripped, None)
    if not nanp:
        return results, decided
    shaped = ascii_text & ~e164 & _matches(stripped, _DIGITS_AND_PUNCTUATION, anchored=False)
    positions = np.flatnonzero(shaped)
    if len(positions):
        readable, numbers = _nanp_numbers(stripped.take(pa.array(positions)))
        decided[positions[readable]] = True
        # Shaped rows are not E.164 ones: their results are null until now.
        results = pc.replace_with_mask(results, pa.array(shaped), numbers)
    return results, decided


def _nanp_numbers(candidates: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Of ASCII texts of digits and punctuation: which are NANP numbers this path
    reads (10 digits, or 11 starting with 1), and each one's E.164 form, null
    unless it is a valid number."""
    digits = pc.replace_substring_regex(candidates, "[^0-9]", "")
    length = pc.utf8_length(digits).to_numpy(zero_copy_only=False)
    with_country = (length == 11) & pc.starts_with(digits, "1").to_numpy(zero_copy_only=False)
    plus = pc.starts_with(candidates, "+").to_numpy(zero_copy_only=False)
    national_only = (length == 10) & ~plus
    nationals = pc.if_else(pa.array(with_country), pc.utf8_slice_codeunits(digits, 1), digits)
    readable = with_country | national_only
    # A national number starting with 0 loses the zero as an integer in
    # phonenumbers; leave those (and other lengths) to the per-value path.
    leading_zero = pc.starts_with(nationals, "0").to_numpy(zero_copy_only=False)
    readable &= ~leading_zero
    usable = np.flatnonzero(readable)
    valid = np.zeros(len(candidates), dtype=bool)
    valid[usable[nanp_valid(nationals.take(pa.array(usable)))]] = True
    prefix, separator = pa.scalar("+1", nationals.type), pa.scalar("", nationals.type)
    e164 = pc.binary_join_element_wise(prefix, nationals, separator)
    return readable, pc.if_else(pa.array(valid), e164, None)
