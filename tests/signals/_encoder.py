"""Test-only encoders for TC strings, GPP headers and GPP US sections.

Public vectors do not cover every branch (range-encoded publisher
restrictions, every state section, malformed variants), so tests build the
strings they need here. The layouts below are written out again from the IAB
specifications rather than imported from the package, so that a round trip
checks the decoder against an independent reading of the spec.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class BitWriter:
    """Append fields as bits; render as websafe base64 without padding."""

    def __init__(self) -> None:
        self.bits: list[str] = []

    def int(self, value: int, width: int) -> BitWriter:
        assert 0 <= value < 2**width or width == 0, (value, width)
        if width:
            self.bits.append(format(value, f"0{width}b"))
        return self

    def bool(self, value: bool) -> BitWriter:
        return self.int(int(value), 1)

    def bitfield(self, ids: Iterable[int], width: int) -> BitWriter:
        chosen = set(ids)
        self.bits.append("".join("1" if i in chosen else "0" for i in range(1, width + 1)))
        return self

    def letters(self, text: str) -> BitWriter:
        for char in text:
            self.int(ord(char) - ord("A"), 6)
        return self

    def datetime(self, moment: datetime) -> BitWriter:
        deciseconds = round((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 10)
        return self.int(deciseconds, 36)

    def fibonacci(self, value: int) -> BitWriter:
        assert value >= 1
        fibs = [1, 2]
        while fibs[-1] <= value:
            fibs.append(fibs[-1] + fibs[-2])
        word = ["0"] * len(fibs)
        rest = value
        for index in range(len(fibs) - 1, -1, -1):
            if fibs[index] <= rest:
                word[index] = "1"
                rest -= fibs[index]
        last = max(i for i, bit in enumerate(word) if bit == "1")
        self.bits.append("".join(word[: last + 1]) + "1")
        return self

    def fibonacci_range(self, ids: Sequence[int]) -> BitWriter:
        groups = _runs(sorted(ids))
        self.int(len(groups), 12)
        last = 0
        for start, end in groups:
            self.bool(start != end)
            self.fibonacci(start - last)
            if start != end:
                self.fibonacci(end - start)
            last = end
        return self

    def int_ranges(self, runs: Sequence[tuple[int, int]]) -> BitWriter:
        """TCF Range(Int) from explicit (start, end) runs, malformed ones included."""
        self.int(len(runs), 12)
        for start, end in runs:
            self.bool(start != end)
            self.int(start, 16)
            if start != end:
                self.int(end, 16)
        return self

    def raw(self, bits: str) -> BitWriter:
        self.bits.append(bits)
        return self

    @property
    def bitstring(self) -> str:
        return "".join(self.bits)

    def base64url(self) -> str:
        bits = self.bitstring
        bits += "0" * (-len(bits) % 6)
        return "".join(_ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def bits_to_base64url_bytes(bits: str) -> str:
    """Encode like iabtcf-java's test helper: pad to bytes, standard '=' padding."""
    bits += "0" * (-len(bits) % 8)
    data = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8))
    return base64.urlsafe_b64encode(data).decode()


def _runs(ids: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for value in ids:
        if runs and value == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


# --------------------------------------------------------------------- TCF


@dataclass
class TcModel:
    """Field values for :func:`encode_tc_string`; defaults make a valid core."""

    version: int = 2
    created: datetime = datetime(2023, 5, 17, 8, 30, 12, 300000, tzinfo=UTC)
    last_updated: datetime = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    cmp_id: int = 7
    cmp_version: int = 3
    consent_screen: int = 2
    consent_language: str = "FR"
    vendor_list_version: int = 150
    tcf_policy_version: int = 4
    is_service_specific: bool = True
    use_non_standard_texts: bool = False
    special_feature_opt_ins: set[int] = field(default_factory=lambda: {1})
    purposes_consent: set[int] = field(default_factory=lambda: {1, 2, 3})
    purposes_li_transparency: set[int] = field(default_factory=lambda: {2, 7})
    purpose_one_treatment: bool = False
    publisher_cc: str = "DE"
    vendor_consents: set[int] = field(default_factory=lambda: {2, 5, 6, 7})
    vendor_consents_range: bool = False
    vendor_li: set[int] = field(default_factory=lambda: {5, 300})
    vendor_li_range: bool = True
    max_vendor_id_consents: int | None = None
    max_vendor_id_li: int | None = None
    # (purpose id, restriction type, vendor ids)
    restrictions: list[tuple[int, int, set[int]]] = field(default_factory=list)


def _vendor_section(writer: BitWriter, ids: set[int], use_range: bool, max_id: int | None) -> None:
    maximum = max(ids, default=0) if max_id is None else max_id
    writer.int(maximum, 16).bool(use_range)
    if use_range:
        writer.int_ranges(_runs(sorted(ids)))
    else:
        writer.bitfield(ids, maximum)


def encode_core_bits(model: TcModel) -> BitWriter:
    w = BitWriter()
    w.int(model.version, 6).datetime(model.created).datetime(model.last_updated)
    w.int(model.cmp_id, 12).int(model.cmp_version, 12).int(model.consent_screen, 6)
    w.letters(model.consent_language).int(model.vendor_list_version, 12)
    w.int(model.tcf_policy_version, 6).bool(model.is_service_specific)
    w.bool(model.use_non_standard_texts).bitfield(model.special_feature_opt_ins, 12)
    w.bitfield(model.purposes_consent, 24).bitfield(model.purposes_li_transparency, 24)
    w.bool(model.purpose_one_treatment).letters(model.publisher_cc)
    _vendor_section(
        w, model.vendor_consents, model.vendor_consents_range, model.max_vendor_id_consents
    )
    _vendor_section(w, model.vendor_li, model.vendor_li_range, model.max_vendor_id_li)
    w.int(len(model.restrictions), 12)
    for purpose, kind, vendors in model.restrictions:
        w.int(purpose, 6).int(kind, 2).int_ranges(_runs(sorted(vendors)))
    return w


def encode_vendor_segment(segment_type: int, ids: set[int], use_range: bool) -> str:
    w = BitWriter().int(segment_type, 3)
    _vendor_section(w, ids, use_range, None)
    return w.base64url()


def encode_publisher_tc(
    consent: set[int], li: set[int], custom_consent: set[int], custom_li: set[int], num_custom: int
) -> str:
    w = BitWriter().int(3, 3).bitfield(consent, 24).bitfield(li, 24).int(num_custom, 6)
    return w.bitfield(custom_consent, num_custom).bitfield(custom_li, num_custom).base64url()


def encode_tc_string(model: TcModel, *segments: str) -> str:
    return ".".join([encode_core_bits(model).base64url(), *segments])


# --------------------------------------------------------------------- GPP


def encode_gpp_header(section_ids: Sequence[int], *, header_type: int = 3, version: int = 1) -> str:
    return BitWriter().int(header_type, 6).int(version, 6).fibonacci_range(section_ids).base64url()


# Spec layouts (field name, number of 2-bit values; None = single Int(2)).
_NAT_HEAD = [
    "sharing_notice",
    "sale_opt_out_notice",
    "sharing_opt_out_notice",
    "targeted_advertising_opt_out_notice",
    "sensitive_data_processing_opt_out_notice",
    "sensitive_data_limit_use_notice",
    "sale_opt_out",
    "sharing_opt_out",
    "targeted_advertising_opt_out",
]
_MSPA = ["mspa_covered_transaction", "mspa_opt_out_option_mode", "mspa_service_provider_mode"]
_SDP = "sensitive_data_processing"
_KIDS = "known_child_sensitive_data_consents"
_PDC = "personal_data_consents"
_VA_HEAD = [
    "sharing_notice",
    "sale_opt_out_notice",
    "targeted_advertising_opt_out_notice",
    "sale_opt_out",
    "targeted_advertising_opt_out",
]

US_LAYOUTS: dict[tuple[int, int], list[tuple[str, int | None]]] = {
    (7, 1): [(n, None) for n in _NAT_HEAD] + [(_SDP, 12), (_KIDS, 2), (_PDC, None)],
    (7, 2): [(n, None) for n in _NAT_HEAD] + [(_SDP, 16), (_KIDS, 3), (_PDC, None)],
    (8, 1): [
        ("sale_opt_out_notice", None),
        ("sharing_opt_out_notice", None),
        ("sensitive_data_limit_use_notice", None),
        ("sale_opt_out", None),
        ("sharing_opt_out", None),
        (_SDP, 9),
        (_KIDS, 2),
        (_PDC, None),
    ],
    (9, 1): [(n, None) for n in _VA_HEAD] + [(_SDP, 8), (_KIDS, None)],
    (10, 1): [(n, None) for n in _VA_HEAD] + [(_SDP, 7), (_KIDS, None)],
    (11, 1): [
        ("sharing_notice", None),
        ("sale_opt_out_notice", None),
        ("targeted_advertising_opt_out_notice", None),
        ("sensitive_data_processing_opt_out_notice", None),
        ("sale_opt_out", None),
        ("targeted_advertising_opt_out", None),
        (_SDP, 8),
        (_KIDS, None),
    ],
    (12, 1): [(n, None) for n in _VA_HEAD] + [(_SDP, 8), (_KIDS, 3)],
}
for _key in US_LAYOUTS:
    US_LAYOUTS[_key] = US_LAYOUTS[_key] + [(n, None) for n in _MSPA]

US_HAS_GPC = {7: True, 8: True, 9: False, 10: True, 11: False, 12: True}


def encode_us_core(
    section_id: int, version: int, values: dict[str, int | Sequence[int]], *, byte_pad: bool = True
) -> str:
    """Encode the core subsection; unspecified fields are 0 (MSPA covered = 1)."""
    w = BitWriter().int(version, 6)
    for name, count in US_LAYOUTS[(section_id, version)]:
        default: int | Sequence[int] = 1 if name == "mspa_covered_transaction" else 0
        value = values.get(name, default if count is None else [0] * count)
        if count is None:
            if isinstance(value, Sequence):  # VA/CO/UT single kids field given as 1-tuple
                (value,) = value
            w.int(int(value), 2)
        else:
            assert isinstance(value, Sequence) and len(value) == count
            for item in value:
                w.int(item, 2)
    if byte_pad:  # what the IAB reference encoders do before the 6-bit padding
        w.raw("0" * (-len(w.bitstring) % 8))
    return w.base64url()


def encode_gpc_subsection(gpc: bool, subsection_type: int = 1) -> str:
    return BitWriter().int(subsection_type, 2).bool(gpc).raw("00000").int(0, 4).base64url()
