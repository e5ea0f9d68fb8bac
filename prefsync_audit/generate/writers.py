"""Write the exports in vendor shapes, in vendor order, chunk by chunk.

Each system's rows (see :mod:`rows`) are put in the order the vendor's export
would have them (Salesforce by Id, Mailchimp by opt-in time, Twilio newest
first, OneTrust by identifier and purpose, the audience shuffled), rendered as
Arrow string columns a chunk at a time (bounded memory at millions of rows)
and written as CSV (``pyarrow.csv``) or Parquet. Each writer reports where
every row ended up (file, 1-based data row) for the truth, and the row
accounting the audit must reproduce.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from prefsync_audit.generate import _arrays as ar
from prefsync_audit.generate.identities import (
    FIRST_NAMES,
    LAST_NAMES,
    PLACEHOLDER_EMAILS,
    STORE_PHONE,
    e164,
    email_spellings,
    hashed_pool,
    phone_spellings,
    sha256_hex,
)
from prefsync_audit.generate.rows import SystemRows
from prefsync_audit.generate.scenario import (
    CMP_PURPOSES,
    CMP_STATUSES,
    MC_FILES,
    P_RAGGED,
    PHONE_NONE,
    PHONE_OWN,
    POINTS,
    TW_HELP,
    WEIRD_FLAGS,
    Scenario,
)

CHUNK = 1 << 20
EXPORTS = "exports"
#: The business number customers text (not a customer identifier).
SHORT_CODE = "+12125550199"
BAD_TIMES = ["2026-13-45T10:00:00.000Z", "0000-00-00T00:00:00.000Z", "2025-02-30T25:61:00.000Z"]
UNSUB_REASONS = [
    "I no longer want to receive these emails",
    "The emails are too frequent",
    "I never signed up for this mailing list",
    "The emails are inappropriate",
    "Other",
]
STOP_WORDS = ["STOP", "Stop", "stop", "STOP ", "Unsubscribe", "CANCEL", "quit", "End"]
START_WORDS = ["START", "Start", "start", "UNSTOP"]
HELP_WORDS = ["HELP", "help", "Help", "INFO"]


@dataclass
class Written:
    """Where a system's rows went."""

    files: list[str]
    """Paths relative to the scenario folder, in file-id order."""
    file_of: np.ndarray
    """Per pre-index: index into ``files``."""
    row_of: np.ndarray
    """Per pre-index: 1-based data row in its file."""
    inputs: list[dict] = field(default_factory=list)


@dataclass
class _Sink:
    """One output file, written chunk by chunk."""

    path: Path
    fmt: str
    quote_all: bool = False
    bom: bool = False
    ragged: bool = False
    _handle: object = None
    _parquet: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self.fmt == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table)
            return
        first = self._handle is None
        if first:
            self._handle = open(self.path, "wb")  # noqa: SIM115 - closed in close()
            if self.bom:
                self._handle.write(b"\xef\xbb\xbf")
        style = "all_valid" if self.quote_all else "none"
        buffer = io.BytesIO()
        options = pa_csv.WriteOptions(
            include_header=first, quoting_style=style, quoting_header=style
        )
        pa_csv.write_csv(table, buffer, options)
        data = buffer.getvalue()
        if self.ragged:
            # A ragged row: the unit separator in a value becomes an unquoted comma.
            data = data.replace(b"\x1f", b",")
        self._handle.write(data)

    def close(self, schema: pa.Schema) -> None:
        if self._handle is None and self._parquet is None:
            self.write(schema.empty_table())  # an empty export still has its header
        if self._handle is not None:
            self._handle.close()
        if self._parquet is not None:
            self._parquet.close()


def _strings(columns: dict[str, pa.Array | None], n: int) -> pa.Table:
    return pa.table(
        {name: (pa.nulls(n, pa.string()) if a is None else a) for name, a in columns.items()}
    )


def _write(
    out: Path, relative: str, fmt: str, order: np.ndarray, render: Callable, **sink_options
) -> None:
    path = out / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    sink = _Sink(path, fmt, **sink_options)
    schema = None
    for start in range(0, len(order), CHUNK):
        table = render(order[start : start + CHUNK])
        schema = table.schema
        sink.write(table)
    if schema is None:
        schema = render(order[:0]).schema
    sink.close(schema)


def _place(total: int, files: list[tuple[str, np.ndarray]]) -> Written:
    file_of = np.full(total, -1, dtype=np.int16)
    row_of = np.full(total, -1, dtype=np.int64)
    for number, (_, order) in enumerate(files):
        file_of[order] = number
        row_of[order] = np.arange(1, len(order) + 1)
    return Written([name for name, _ in files], file_of, row_of)


def _spelled(rng, rate: float, n: int, styles: int) -> np.ndarray:
    """Style 0 (as normalized) for ``1 - rate`` of the rows, else one of the others."""
    other = rng.integers(1, styles, n)
    return np.where(rng.random(n) < rate, other, 0)


def _ext(fmt: str) -> str:
    return ".parquet" if fmt == "parquet" else ".csv"


# --------------------------------------------------------------------------- systems


def write_crm(sc: Scenario, rows: SystemRows, out: Path, fmt: str, rng) -> Written:
    person, slot = rows.person_and_slot()
    is_dup = slot == 1
    order = rng.permutation(rows.total)
    ids = np.empty(rows.total, dtype=np.int64)
    ids[order] = np.arange(rows.total)  # Ids increase in export order, like creation order
    crm, names = sc.crm, sc.ids
    relative = f"{EXPORTS}/crm_contacts{_ext(fmt)}"

    def render(pre: np.ndarray) -> pa.Table:
        p, dup = person[pre], is_dup[pre]
        email = email_spellings(
            names.email.take(pa.array(p)), _spelled(rng, sc.drift.email_spelling, len(p), 5)
        )
        placeholder = crm.placeholder[p]
        email = ar.choose(
            (placeholder >= 0).astype(np.int8),
            [email, ar.pick(PLACEHOLDER_EMAILS, np.maximum(placeholder, 0))],
        )
        kind = np.where(dup, PHONE_NONE, crm.phone[p])
        number = np.where(kind == PHONE_OWN, names.phone[p], STORE_PHONE)
        phone = phone_spellings(number, _spelled(rng, sc.drift.phone_spelling, len(p), 6))
        phone = ar.choose(
            (kind == PHONE_NONE).astype(np.int8), [phone, pa.nulls(len(p), pa.string())]
        )
        flag = np.where(crm.flag[p] == 2, 2 + crm.weird[p], crm.flag[p])
        bad = crm.bad_time[p]
        modified = ar.choose(
            bad.astype(np.int8),
            [
                ar.format_times(crm.time[p], "salesforce"),
                ar.pick(BAD_TIMES, rng.integers(0, 3, len(p))),
            ],
        )
        customer = np.where(dup, names.conflict_customer[p], names.customer[p])
        return _strings(
            {
                "Id": ar.salesforce_ids(ids[pre]),
                "FirstName": ar.pick(FIRST_NAMES, names.first[p]),
                "LastName": ar.pick(LAST_NAMES, names.last[p]),
                "Email": email,
                "Phone": phone,
                "Customer_Number__c": ar.digits(customer, 8, b"NW-"),
                "HasOptedOutOfEmail": ar.pick(["false", "true", *WEIRD_FLAGS], flag),
                "DoNotCall": ar.pick(["false", "true"], crm.dnc[p]),
                "LastModifiedDate": modified,
            },
            len(p),
        )

    _write(out, relative, fmt, order, render, quote_all=True)
    written = _place(rows.total, [(relative, order)])
    bad = int(crm.bad_time[person].sum())
    written.inputs = [_accounting("crm", relative, rows.total, bad, 0)]
    return written


def write_mailchimp(sc: Scenario, rows: SystemRows, out: Path, fmt: str, rng) -> Written:
    person, _ = rows.person_and_slot()
    mc, names = sc.mc, sc.ids
    audience = "".join(f"{b:02x}" for b in rng.integers(0, 256, 2))
    euid = rng.integers(0, 1 << 40, rows.total)
    files = []
    for status, name in MC_FILES.items():
        pre = np.flatnonzero(mc.status[person] == status)
        optin = mc.optin[person[pre]]
        first = np.where(optin == ar.NA, mc.changed[person[pre]], optin)
        order = pre[np.lexsort((euid[pre], first))]
        relative = f"{EXPORTS}/mailchimp/{name}_email_audience_export_{audience}{_ext(fmt)}"
        files.append((relative, order))

        def render(chunk: np.ndarray, name=name) -> pa.Table:
            p, n = person[chunk], len(chunk)
            optin, changed = mc.optin[p], mc.changed[p]
            confirm = np.where(optin == ar.NA, ar.NA, np.minimum(optin + 600, changed))
            columns = {
                "Email Address": email_spellings(
                    names.email.take(pa.array(p)), np.where(rng.random(n) < 0.1, 1, 0)
                ),
                "First Name": ar.pick(FIRST_NAMES, names.first[p]),
                "Last Name": ar.pick(LAST_NAMES, names.last[p]),
                "MEMBER_RATING": ar.digits(rng.integers(1, 6, n), 1),
                "OPTIN_TIME": ar.format_times(optin, "mailchimp"),
                "OPTIN_IP": None,
                "CONFIRM_TIME": ar.format_times(confirm, "mailchimp"),
                "CONFIRM_IP": None,
                "LATITUDE": None,
                "LONGITUDE": None,
                "GMTOFF": None,
                "DSTOFF": None,
                "TIMEZONE": None,
                "CC": ar.pick(["US"], np.zeros(n, dtype=np.int8)),
                "REGION": None,
                "LAST_CHANGED": ar.format_times(changed, "mailchimp"),
                "LEID": ar.digits(rng.integers(100_000_000, 1_000_000_000, n), 9),
                "EUID": ar.text_array(ar.in_base(euid[chunk], 10, ar.HEX)),
                "NOTES": None,
                "TAGS": None,
            }
            if name == "unsubscribed":
                columns["UNSUB_TIME"] = ar.format_times(changed, "mailchimp")
                columns["UNSUB_CAMPAIGN_TITLE"] = None
                columns["UNSUB_CAMPAIGN_ID"] = None
                columns["UNSUB_REASON"] = ar.pick(UNSUB_REASONS, rng.integers(0, 5, n))
                columns["UNSUB_REASON_OTHER"] = None
            if name == "cleaned":
                columns["CLEAN_TIME"] = ar.format_times(changed, "mailchimp")
                columns["CLEAN_CAMPAIGN_TITLE"] = None
                columns["CLEAN_CAMPAIGN_ID"] = None
            return _strings(columns, n)

        _write(out, relative, fmt, order, render)
    written = _place(rows.total, files)
    written.inputs = [_accounting("email", f, len(o), 0, 0) for f, o in files]
    return written


def write_twilio(sc: Scenario, rows: SystemRows, out: Path, fmt: str, rng) -> Written:
    person, slot = rows.person_and_slot()
    stranger = person < 0
    p = np.maximum(person, 0)
    kind = np.where(stranger, TW_HELP, sc.tw.kind[np.maximum(slot, 0), p])
    sent = np.where(stranger, 0, sc.tw.time[np.maximum(slot, 0), p])
    sent[stranger] = sc.help_time
    number = np.where(stranger, 0, sc.ids.phone[p])
    number[stranger] = sc.help_only
    order = np.lexsort((number, -sent))
    relative = f"{EXPORTS}/twilio_messages{_ext(fmt)}"

    def render(pre: np.ndarray) -> pa.Table:
        n, k = len(pre), kind[pre]
        words = [[], START_WORDS, STOP_WORDS, HELP_WORDS]
        body = np.zeros(n, dtype=np.int64)
        offset = 0
        pool: list[str] = []
        for code in (1, 2, 3):
            at = k == code
            body[at] = offset + rng.integers(0, len(words[code]), int(at.sum()))
            pool += words[code]
            offset += len(words[code])
        return _strings(
            {
                "From": e164(number[pre]),
                "To": ar.pick([SHORT_CODE], np.zeros(n, dtype=np.int8)),
                "Body": ar.pick(pool, body),
                "OptOutType": ar.pick(["", "START", "STOP", "HELP"], k),
                "date_sent": ar.format_times(sent[pre], "iso"),
            },
            n,
        )

    _write(out, relative, fmt, order, render)
    written = _place(rows.total, [(relative, order)])
    written.inputs = [_accounting("sms", relative, rows.total, 0, int((kind == TW_HELP).sum()))]
    return written


def write_onetrust(sc: Scenario, rows: SystemRows, out: Path, fmt: str, rng) -> Written:
    person, slot = rows.person_and_slot()
    purposes = list(CMP_PURPOSES)
    names_sorted = sorted(range(len(purposes)), key=lambda i: CMP_PURPOSES[purposes[i]][0])
    purpose_rank = np.empty(len(purposes), dtype=np.int64)
    purpose_rank[names_sorted] = np.arange(len(purposes))
    # OneTrust lists data subjects by identifier; persons are numbered in that order.
    order = np.lexsort((purpose_rank[slot], person))
    fields = ("status", "consent", "withdraw", "point", "receipt")
    table = {f: np.stack([getattr(sc.cmp[p], f) for p in purposes]) for f in fields}
    relative = f"{EXPORTS}/onetrust_consents{_ext(fmt)}"

    def render(pre: np.ndarray) -> pa.Table:
        p, s, n = person[pre], slot[pre], len(pre)
        value = {f: table[f][s, p] for f in fields}
        return _strings(
            {
                "Identifier": email_spellings(
                    sc.ids.email.take(pa.array(p)), np.where(rng.random(n) < 0.3, 1, 0)
                ),
                "Purpose Name": ar.pick([CMP_PURPOSES[x][0] for x in purposes], s),
                "Purpose Version": ar.pick([CMP_PURPOSES[x][1] for x in purposes], s),
                "Status": ar.pick(CMP_STATUSES, value["status"]),
                "Consent Date": ar.format_times(value["consent"], "iso"),
                "Withdrawal Date": ar.format_times(value["withdraw"], "iso"),
                "Collection Point": ar.pick(
                    POINTS, np.where(value["point"] == 0, -1, value["point"])
                ),
                "Receipt Id": ar.uuid4_text(rng, n, value["receipt"]),
            },
            n,
        )

    ragged = int((table["point"][slot, person] == P_RAGGED).sum())
    _write(out, relative, fmt, order, render, bom=fmt == "csv", ragged=ragged > 0)
    written = _place(rows.total, [(relative, order)])
    necessary = int((slot == purposes.index("necessary")).sum())
    written.inputs = [_accounting("cmp", relative, rows.total, ragged, necessary)]
    return written


def write_audience(sc: Scenario, rows: SystemRows, out: Path, fmt: str, rng) -> Written:
    person, _ = rows.person_and_slot()
    order = rng.permutation(rows.total)
    relative = f"{EXPORTS}/customer_match_audience{_ext(fmt)}"
    first_hashes, last_hashes = hashed_pool(FIRST_NAMES), hashed_pool(LAST_NAMES)

    def render(pre: np.ndarray) -> pa.Table:
        p, n = person[pre], len(pre)
        email = sc.ids.google_email.take(pa.array(p))
        with_email, with_phone = sc.ads.with_email[p], sc.ads.with_phone[p]
        email = ar.choose(with_email.astype(np.int8), [pa.nulls(n, pa.string()), email])
        phone = ar.choose(
            with_phone.astype(np.int8), [pa.nulls(n, pa.string()), e164(sc.ids.phone[p])]
        )
        return _strings(
            {
                "Email": sha256_hex(email),
                "Phone": sha256_hex(phone),
                "First Name": ar.pick(first_hashes, sc.ids.first[p]),
                "Last Name": ar.pick(last_hashes, sc.ids.last[p]),
                "Country": ar.pick(["US"], np.zeros(n, dtype=np.int8)),
                "Zip": ar.digits(rng.integers(10001, 99951, n), 5),
            },
            n,
        )

    _write(out, relative, fmt, order, render)
    written = _place(rows.total, [(relative, order)])
    written.inputs = [_accounting("ads", relative, rows.total, 0, 0)]
    return written


def _accounting(system: str, path: str, read: int, quarantined: int, ignored: int) -> dict:
    return {
        "system": system,
        "path": path,
        "rows_read": read,
        "rows_mapped": read - quarantined - ignored,
        "rows_quarantined": quarantined,
        "rows_ignored": ignored,
    }


WRITERS = {
    "crm": write_crm,
    "email": write_mailchimp,
    "sms": write_twilio,
    "cmp": write_onetrust,
    "ads": write_audience,
}


def write_exports(
    sc: Scenario, rows: dict[str, SystemRows], out: Path, fmt: str, rng
) -> dict[str, Written]:
    return {system: WRITERS[system](sc, rows[system], out, fmt, rng) for system in rows}
