"""Build exports/account_preferences.sqlite: the Northwind app's own account-settings table.

The sixth system of the demo is read straight from a database (a SQLite file,
so the demo still needs no server). Its rows are derived, deterministically,
from the other exports, which ``make_demo.py`` writes:

- **consistent accounts** — filler customers (never a planted case of
  PLANTED.md) with exactly one OneTrust *Email Marketing* receipt that every
  other system agrees with (Salesforce flag, Mailchimp status). The app shows
  the same choice, written by the nightly sync from the preference center
  1–20 hours after the choice was made (the deciding change), so the app's
  denials are never the deciding change, its grants agree, and its lag stays
  within the 72 h SLA. ``sms_opt_in`` is set only
  where OneTrust has exactly one *SMS Marketing* receipt, ACTIVE or an
  opt-out, the customer's Twilio log agrees, and the SMS choice was made
  within two days of the email choice (one ``updated_at`` stands for both);
  elsewhere it is NULL (no observation).
- **D36** — a customer who unsubscribed in January: Mailchimp, OneTrust and
  Salesforce have it, but the account row was never synced and still says
  ``marketing_email_opt_in = 1`` from sign-up → a suppression gap in the app.
- **D37** — a customer who texted STOP (OneTrust recorded it) and later
  switched SMS back on in the app's settings; the app is not the authority
  for ``marketing/sms`` and the change never reached OneTrust, so the re-grant
  does not count → an unverified re-subscribe in the app.

Run ``python sample_exports/retail/make_account_db.py`` after ``make_demo.py``:
it rewrites the file with the same schema and rows (byte for byte with the same
SQLite library) and prints what it wrote.
"""

from __future__ import annotations

import csv
import hashlib
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPORTS = HERE / "exports"
TARGET = EXPORTS / "account_preferences.sqlite"
AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
#: Nothing consistent is dated inside the 72 h before as-of (as in make_demo.py).
QUIET_END = datetime(2026, 2, 20, tzinfo=UTC)
ACCOUNTS = 40

GRANTED = {"ACTIVE"}
DENIED = {"OPT_OUT", "WITHDRAWN"}

#: D36 unsubscribed (in Mailchimp) within this window; D37 texted STOP.
D36_WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))

SCHEMA = """
CREATE TABLE account_preferences (
    customer_number TEXT PRIMARY KEY,
    email TEXT,
    marketing_email_opt_in INTEGER CHECK (marketing_email_opt_in IN (0, 1)),
    sms_opt_in INTEGER CHECK (sms_opt_in IN (0, 1)),
    updated_at TEXT NOT NULL
)
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def norm_email(text: str) -> str:
    return text.strip().lower()


def e164(text: str) -> str | None:
    digits = re.sub(r"\D", "", text)
    if len(digits) == 10:
        return "+1" + digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    return None


def parse(text: str) -> datetime:
    text = text.strip().replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def sqlite_time(moment: datetime) -> str:
    """SQLite's own datetime text: ``YYYY-MM-DD HH:MM:SS``, UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def stable_hours(key: str, low: int, high: int) -> timedelta:
    """A lag between ``low`` and ``high`` hours (minutes resolution) fixed by ``key``."""
    number = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    minutes = low * 60 + number % ((high - low) * 60)
    return timedelta(minutes=minutes)


#: PLANTED.md's own section on this table (D36, D37): not read for the exclusion list,
#: so the cases it names can be chosen again, the same way, when the file is rebuilt.
ACCOUNT_SECTION = ("### The app's account-settings table", "## 3. ")


def planted_emails() -> set[str]:
    """Every person PLANTED.md names (their emails) outside this table's own section,
    so fillers stay fillers."""
    text = (HERE / "PLANTED.md").read_text(encoding="utf-8")
    start, end = text.find(ACCOUNT_SECTION[0]), text.find(ACCOUNT_SECTION[1])
    if 0 <= start < end:
        text = text[:start] + text[end:]
    return {m.lower() for m in re.findall(r"[\w.+-]+@[\w-]+\.example|[\w.+-]+@gmail\.com", text)}


def load() -> dict[str, dict]:
    """Per customer email: CRM, OneTrust, Mailchimp and Twilio facts."""
    people: dict[str, dict] = {}
    crm_numbers: dict[str, set[str]] = {}
    for row in read_csv(EXPORTS / "crm_contacts.csv"):
        email = norm_email(row["Email"])
        if not email or email.startswith("noemail@"):
            continue
        person = people.setdefault(email, {"email": email, "crm": [], "cmp": {}, "mc": []})
        person["crm"].append(row)
        crm_numbers.setdefault(email, set()).add(row["Customer_Number__c"])
    for row in read_csv(EXPORTS / "onetrust_consents.csv"):
        email = norm_email(row["Identifier"])
        if email in people:
            people[email]["cmp"].setdefault(row["Purpose Name"], []).append(row)
    for path in sorted((EXPORTS / "mailchimp").glob("*.csv")):
        status = path.name.split("_", 1)[0]
        for row in read_csv(path):
            email = norm_email(row["Email Address"])
            if email in people:
                people[email]["mc"].append((status, row))
    texts: dict[str, list[dict[str, str]]] = {}
    for row in read_csv(EXPORTS / "twilio_optouts.csv"):
        texts.setdefault(row["From"], []).append(row)
    for email, person in people.items():
        person["numbers"] = crm_numbers[email]
        phones = {e164(row["Phone"]) for row in person["crm"] if row["Phone"].strip()}
        person["texts"] = [
            t for phone in sorted(p for p in phones if p) for t in texts.get(phone, [])
        ]
    return people


def cmp_time(row: dict[str, str]) -> datetime:
    return parse(row["Withdrawal Date"] or row["Consent Date"])


def email_state(person: dict) -> tuple[bool, datetime] | None:
    """The customer's agreed email choice and when it was made (the deciding change of
    DESIGN §5: OneTrust's grant, or the earliest opt-out any system recorded), or None
    when the systems do not all agree."""
    receipts = person["cmp"].get("Email Marketing", [])
    if len(receipts) != 1 or receipts[0]["Status"] not in GRANTED | DENIED:
        return None
    granted = receipts[0]["Status"] in GRANTED
    denials = [cmp_time(receipts[0])]
    for row in person["crm"]:
        if row["HasOptedOutOfEmail"] != ("false" if granted else "true"):
            return None
        denials.append(parse(row["LastModifiedDate"]))
    for status, row in person["mc"]:
        if status == "cleaned" or (status == "subscribed") != granted:
            return None
        denials.append(parse(row.get("UNSUB_TIME") or row["LAST_CHANGED"]))
    return granted, cmp_time(receipts[0]) if granted else min(denials)


def sms_state(person: dict) -> tuple[bool, datetime] | None:
    """The agreed SMS choice (one OneTrust receipt, Twilio's latest keyword agreeing) and
    when it was made (OneTrust's grant, or the earliest opt-out: a receipt or a STOP)."""
    receipts = person["cmp"].get("SMS Marketing", [])
    if len(receipts) != 1 or receipts[0]["Status"] not in GRANTED | DENIED:
        return None
    granted = receipts[0]["Status"] in GRANTED
    keywords = [t for t in person["texts"] if t["OptOutType"] in ("STOP", "START")]
    if keywords:
        latest = max(keywords, key=lambda t: t["date_sent"])
        if (latest["OptOutType"] == "START") != granted:
            return None
    stops = [parse(t["date_sent"]) for t in keywords if t["OptOutType"] == "STOP"]
    return granted, cmp_time(receipts[0]) if granted else min([cmp_time(receipts[0]), *stops])


#: Customer number → planted case, filled by :func:`rows` (for the printout).
PLANTED_ROWS: dict[str, str] = {}


def rows() -> list[tuple]:
    people = load()
    planted = planted_emails()
    consistent = []
    for email, person in sorted(people.items()):
        if email in planted or len(person["numbers"]) != 1 or len(person["crm"]) != 1:
            continue
        state = email_state(person)
        if state is None or state[1] > QUIET_END - timedelta(days=1):
            continue
        consistent.append(person)
    # A fixed, spread-out sample: ordered by a hash of the customer number.
    consistent.sort(key=lambda p: hashlib.sha256(min(p["numbers"]).encode()).hexdigest())

    table: list[tuple] = []
    d36 = next(
        p
        for p in consistent
        if not email_state(p)[0]  # type: ignore[index]
        and any(status == "unsubscribed" for status, _ in p["mc"])
        and D36_WINDOW[0] <= email_state(p)[1] < D36_WINDOW[1]  # type: ignore[index]
        and not p["cmp"].get("SMS Marketing")
    )
    signup = parse(d36["cmp"]["Email Marketing"][0]["Consent Date"])
    PLANTED_ROWS[min(d36["numbers"])] = "D36 suppression_gap (marketing/email)"
    table.append(
        (min(d36["numbers"]), d36["email"], 1, None, sqlite_time(signup + timedelta(minutes=7)))
    )

    d37 = next(
        p
        for p in consistent
        if p is not d36
        and (sms := sms_state(p)) is not None
        and not sms[0]
        and any(t["OptOutType"] == "STOP" for t in p["texts"])
    )
    email_granted, email_time = email_state(d37)  # type: ignore[misc]
    _, sms_time = sms_state(d37)  # type: ignore[misc]
    regrant = max(email_time, sms_time) + timedelta(days=9, hours=3, minutes=41)
    assert regrant < QUIET_END
    PLANTED_ROWS[min(d37["numbers"])] = "D37 unverified_resubscribe (marketing/sms)"
    table.append((min(d37["numbers"]), d37["email"], int(email_granted), 1, sqlite_time(regrant)))

    for person in consistent:
        if len(table) >= ACCOUNTS or person in (d36, d37):
            continue
        number = min(person["numbers"])
        granted, decided = email_state(person)  # type: ignore[misc]
        sms = sms_state(person)
        if sms is not None and abs(sms[1] - decided) > timedelta(hours=48):
            sms = None  # one updated_at stands for both flags: keep both lags short
        # The nightly sync copies the choice 1-20 hours after it was made.
        latest = max(decided, sms[1]) if sms is not None else decided
        synced = latest + stable_hours(number, 1, 20)
        email = person["email"]
        if len(table) % 9 == 4:
            email = None  # an account without an email: linked by customer number
        elif len(table) % 9 == 7:
            email = email.title()  # typed at sign-up with capitals
        table.append(
            (number, email, int(granted), None if sms is None else int(sms[0]), sqlite_time(synced))
        )
    table.sort(key=lambda row: row[0])
    return table


def write(table: list[tuple]) -> None:
    TARGET.unlink(missing_ok=True)
    db = sqlite3.connect(TARGET)
    try:
        db.execute("PRAGMA page_size = 4096")
        db.execute("PRAGMA journal_mode = DELETE")
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO account_preferences VALUES (?, ?, ?, ?, ?)", table)
        db.commit()
        db.execute("VACUUM")
    finally:
        db.close()


def main() -> None:
    table = rows()
    write(table)
    sms = sum(1 for row in table if row[3] is not None)
    print(f"{TARGET.relative_to(HERE)}: {len(table)} accounts, {sms} with an SMS choice")
    for row in table:
        print("  ", row, PLANTED_ROWS.get(row[0], ""))


if __name__ == "__main__":
    main()
