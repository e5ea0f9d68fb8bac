#!/usr/bin/env python3
"""Generate the Northwind Outfitters demo exports (seven systems, ~330 people).

    python sample_exports/retail/make_demo.py

Deterministic: Python standard library only and one ``random.Random(20260301)``,
so running it again rewrites every file under ``exports/`` byte for byte.
The drift planted on purpose is listed in ``PLANTED.md``; each planted person
is built by a ``plant_*`` call below with hand-picked times, everyone else is a
"filler" whose systems agree (grants older than denials, nothing inside the
72 h window before ``as_of`` except the planted pending syncs).

Systems and shapes (see ``/work/shared/VENDOR_FORMATS.md``):

* ``crm``   Salesforce Contact, Data Loader CSV (every value quoted);
* ``email`` Mailchimp audience export, one CSV per status (status in file name);
* ``sms``   Twilio inbound opt-out log rebuilt from messages (E.164 ``From``);
* ``cmp``   OneTrust consent receipts, flat CSV in long layout (UTF-8 with BOM);
* ``ads``   Google Customer Match upload, SHA-256 hashed (Gmail dot/plus rule);
* ``banner`` the storefront's consent-banner (TCF CMP) event log, JSONL: TC string,
  optional GPP string and GPC flag per event, keyed by device and (logged in) email;
* ``analytics`` a Segment-like web analytics user export, JSONL: the consent
  categories (Analytics, Advertising) per anonymousId / userId.

The two web systems are generated last, from their own ``random.Random(20260302)``,
so the five older exports stay byte for byte what they were (same rows, same order).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import string
import sys
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPORTS = HERE / "exports"
MAILCHIMP = EXPORTS / "mailchimp"
AUDIENCE_ID = "3f2a"

AS_OF = datetime(2026, 3, 1, tzinfo=UTC)
EARLY = datetime(2025, 6, 1, tzinfo=UTC)
#: Filler changes stop here: well outside the 72 h SLA window before AS_OF.
QUIET_END = datetime(2026, 2, 20, tzinfo=UTC)
#: The business number inbound texts are sent to (never a customer's phone).
SHORT_NUMBER = "+12125550100"

rng = random.Random(20260301)

# --------------------------------------------------------------------------- people


@dataclass
class Person:
    label: str
    """``filler``, ``placeholder``… or the planted case id used in PLANTED.md."""
    first: str
    last: str
    email: str | None
    """The canonical (lowercase) address; each system spells it its own way."""
    phone: str | None = None
    """E.164."""
    crm: list[dict] = field(default_factory=list)
    mailchimp: dict | None = None
    cmp: list[dict] = field(default_factory=list)
    sms: list[dict] = field(default_factory=list)
    ads: dict | None = None


PEOPLE: list[Person] = []

FIRST = [
    "Ada", "Aiden", "Alma", "Amir", "Anika", "Arjun", "Beatriz", "Bruno", "Camille", "Caleb",
    "Chloé", "Dario", "Dana", "Elif", "Emeka", "Esther", "Farah", "Felix", "Freya", "Gabriel",
    "Hana", "Hector", "Ingrid", "Isaac", "Jae", "Jonas", "José", "Kai", "Keira", "Lars",
    "Leila", "Liam", "Lena", "Marco", "Mariam", "Mateo", "Nadia", "Nils", "Nora", "Omar",
    "Paloma", "Quinn", "Ravi", "Rosa", "Ruth", "Sakura", "Selin", "Søren", "Talia", "Theo",
    "Uma", "Viktor", "Wanda", "Xavier", "Yara", "Yosef", "Zoë", "Zane", "Imani", "Matteo",
]
LAST = [
    "Abbott", "Alvarez", "Baptiste", "Barros", "Becker", "Bergstrom", "Calloway", "Chen",
    "Costa", "Dahl", "Delacroix", "Dempsey", "Eriksen", "Esposito", "Falk", "Fontaine",
    "Garrido", "Gallagher", "Haddon", "Holm", "Ibarra", "Iversen", "Jaramillo", "Jensen",
    "Kaplan", "Kowalczyk", "Lachance", "Lindgren", "Mbeki", "Moreno", "Nakamura", "Novak",
    "Oduya", "Olsen", "Pacheco", "Petrov", "Quintero", "Rahman", "Rasmussen", "Rocha",
    "Salazar", "Sorensen", "Takahashi", "Thorne", "Ueda", "Vance", "Varga", "Weiss",
    "Whitaker", "Xu", "Yilmaz", "Young", "Zamora", "Zeller", "Mwangi", "Okafor",
]
DOMAINS = ["inbox.example", "mailhub.example", "postbox.example", "letterbox.example",
           "parcelpost.example"]


def ascii_fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c)).replace("ø", "o").replace("Ø", "O")


# Fictional 555-01xx numbers (valid for libphonenumber), one area code block at a time.
PHONE_POOL = [f"+1{area}55501{n:02d}" for area in
              ("212", "312", "415", "617", "206", "303", "512", "404")
              for n in range(100)]
PHONE_POOL.remove(SHORT_NUMBER)
rng.shuffle(PHONE_POOL)
_reserved_emails: set[str] = set()


def take_phone() -> str:
    return PHONE_POOL.pop()


def new_email(first: str, last: str) -> str:
    base = f"{ascii_fold(first)}.{ascii_fold(last)}".lower().replace(" ", "")
    domain = rng.choice(DOMAINS)
    email, n = f"{base}@{domain}", 1
    while email in _reserved_emails:
        n += 1
        email = f"{base}{n}@{domain}"
    _reserved_emails.add(email)
    return email


def reserve(email: str) -> str:
    assert email not in _reserved_emails, email
    _reserved_emails.add(email)
    return email


# --------------------------------------------------------------------------- formats


def at(text: str) -> datetime:
    """``"2026-01-14 09:12:40"`` (UTC) → datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def between(start: datetime, end: datetime) -> datetime:
    seconds = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randint(0, max(seconds, 0)))


def sf_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def mc_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def iso_time(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def google_email(email: str) -> str:
    """Customer Match normalization: Gmail local parts lose dots and ``+suffix``."""
    local, _, domain = email.strip().lower().rpartition("@")
    if domain in ("gmail.com", "googlemail.com"):
        local = local.split("+", 1)[0].replace(".", "")
    return f"{local}@{domain}"


def crm_email(email: str) -> str:
    """Salesforce keeps what the store associate typed: case and stray spaces vary."""
    local, _, domain = email.partition("@")
    style = rng.random()
    if style < 0.45:
        return email
    if style < 0.70:
        return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
    if style < 0.82:
        return email.upper()
    if style < 0.92:
        return " " + email
    return email + "  "


def cmp_email(email: str) -> str:
    return email if rng.random() < 0.7 else (
        ".".join(p.capitalize() for p in email.partition("@")[0].split("."))
        + "@" + email.partition("@")[2])


def crm_phone(e164: str) -> str:
    area, exchange, line = e164[2:5], e164[5:8], e164[8:]
    return rng.choice([f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}",
                       f"{area}-{exchange}-{line}", f"+1 {area} {exchange} {line}"])


_sf_ids: set[str] = set()
_customer_numbers: set[str] = set()


def salesforce_id() -> str:
    """An 18-character Contact id with a correct case-safe checksum suffix."""
    alphabet = string.digits + string.ascii_letters
    while True:
        body = "0035g00000" + "".join(rng.choice(alphabet) for _ in range(5))
        suffix = ""
        for i in range(3):
            chunk = body[i * 5:(i + 1) * 5]
            bits = sum(1 << j for j, c in enumerate(chunk) if c.isupper())
            suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
        if body + suffix not in _sf_ids:
            _sf_ids.add(body + suffix)
            return body + suffix


def customer_number(fixed: str | None = None) -> str:
    number = fixed or f"NW-{rng.randint(100000, 199999)}"
    while number in _customer_numbers:
        number = f"NW-{rng.randint(100000, 199999)}"
    _customer_numbers.add(number)
    return number


def receipt(required: bool = False) -> str:
    """A OneTrust receipt id; about 1 in 12 rows has none (older imports)."""
    if not required and rng.random() < 0.08:
        return ""
    a, b, c = rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12)
    d, e = 0x8000 | rng.getrandbits(14), rng.getrandbits(48)
    return f"{a:08x}-{b:04x}-4{c:03x}-{d:04x}-{e:012x}"


# --------------------------------------------------------------------------- builders

def add_crm(p: Person, opted_out: str, modified: datetime | str, *, dnc: str | None = None,
            phone: bool = True, number: str | None = None, email: str | None = None) -> None:
    p.crm.append({
        "Id": salesforce_id(),
        "Email": email if email is not None else (crm_email(p.email) if p.email else ""),
        "Phone": crm_phone(p.phone) if (phone and p.phone) else "",
        "Customer_Number__c": customer_number(number),
        "HasOptedOutOfEmail": opted_out,
        "DoNotCall": dnc if dnc is not None else ("true" if rng.random() < 0.1 else "false"),
        "LastModifiedDate": modified if isinstance(modified, str) else sf_time(modified),
    })


def _mc_base(p: Person, optin: datetime | None, confirm: datetime | None) -> dict:
    return {
        "Email Address": p.email if rng.random() < 0.9 else p.email.capitalize(),
        "First Name": p.first, "Last Name": p.last,
        "MEMBER_RATING": str(rng.randint(1, 5)),
        "OPTIN_TIME": mc_time(optin), "CONFIRM_TIME": mc_time(confirm),
        "LEID": str(rng.randint(100000000, 999999999)),
        "EUID": f"{rng.getrandbits(40):010x}",
    }


def mc_subscribed(p: Person, optin: datetime | None, last_changed: datetime,
                  confirm: datetime | None = None) -> None:
    if confirm is None and optin is not None:  # the double opt-in click, never after LAST_CHANGED
        confirm = min(optin + timedelta(seconds=rng.randint(40, 2400)), last_changed)
    row = _mc_base(p, optin, confirm)
    row["LAST_CHANGED"] = mc_time(last_changed)
    p.mailchimp = {"status": "subscribed", **row}


def mc_unsubscribed(p: Person, optin: datetime, unsub: datetime, reason: str) -> None:
    row = _mc_base(p, optin, optin + timedelta(seconds=rng.randint(40, 2400)))
    row.update({"LAST_CHANGED": mc_time(unsub), "UNSUB_TIME": mc_time(unsub),
                "UNSUB_REASON": reason})
    p.mailchimp = {"status": "unsubscribed", **row}


def mc_cleaned(p: Person, optin: datetime, cleaned: datetime) -> None:
    row = _mc_base(p, optin, optin + timedelta(seconds=rng.randint(40, 2400)))
    row.update({"LAST_CHANGED": mc_time(cleaned), "CLEAN_TIME": mc_time(cleaned)})
    p.mailchimp = {"status": "cleaned", **row}


PURPOSE_VERSION = {"Email Marketing": "3", "SMS Marketing": "2", "Analytics Cookies": "4",
                   "Sale or Sharing of Personal Information": "1", "Advertising": "2",
                   "Strictly Necessary Cookies": "1"}


def consent(p: Person, purpose: str, status: str, consented: datetime | None,
            withdrawn: datetime | None = None, point: str = "Website Signup Form", *,
            proof: bool = False, ragged: bool = False) -> None:
    p.cmp.append({
        "Identifier": cmp_email(p.email), "Purpose Name": purpose,
        "Purpose Version": PURPOSE_VERSION[purpose], "Status": status,
        "Consent Date": iso_time(consented), "Withdrawal Date": iso_time(withdrawn),
        "Collection Point": point, "Receipt Id": receipt(required=proof),
        "_ragged": ragged,
    })


STOP_WORDS = ["STOP", "Stop", "stop", "STOP ", "Unsubscribe", "CANCEL", "quit", "End"]
START_WORDS = ["START", "Start", "start", "UNSTOP"]
HELP_WORDS = ["HELP", "help", "Help", "INFO"]


def text(p: Person, kind: str, when: datetime, phone: str | None = None) -> None:
    words = {"STOP": STOP_WORDS, "START": START_WORDS, "HELP": HELP_WORDS}[kind]
    p.sms.append({"From": phone or p.phone, "To": SHORT_NUMBER, "Body": rng.choice(words),
                  "OptOutType": kind, "date_sent": iso_time(when)})


def in_audience(p: Person, email: bool = True, phone: bool = True) -> None:
    p.ads = {
        "Email": sha256(google_email(p.email)) if (email and p.email) else "",
        "Phone": sha256(p.phone) if (phone and p.phone) else "",
        "First Name": sha256(ascii_fold(p.first).lower()),
        "Last Name": sha256(ascii_fold(p.last).lower()),
        "Country": "US", "Zip": f"{rng.randint(10001, 99950):05d}",
    }


def person(label: str, first: str, last: str, email: str | None, *,
           phone: bool = True) -> Person:
    p = Person(label, first, last, reserve(email) if email else None,
               take_phone() if phone else None)
    PEOPLE.append(p)
    return p


def cookie_choices(p: Person) -> None:
    """CMP-only purposes (no other system holds them): any choice is consistent."""
    if rng.random() < 0.35:
        consent(p, "Strictly Necessary Cookies", "ALWAYS_ACTIVE",
                between(EARLY, QUIET_END), point="Cookie Banner")
    if rng.random() < 0.8:
        t = between(EARLY, QUIET_END - timedelta(days=20))
        r = rng.random()
        if r < 0.75:
            consent(p, "Analytics Cookies", "ACTIVE", t, point="Cookie Banner")
        elif r < 0.95:
            consent(p, "Analytics Cookies", "OPT_OUT", None,
                    t + timedelta(days=rng.randint(0, 19)), point="Cookie Banner")
        else:
            consent(p, "Analytics Cookies", "EXPIRED", t - timedelta(days=200),
                    point="Cookie Banner")
    if rng.random() < 0.65:
        t = between(EARLY, QUIET_END - timedelta(days=20))
        r = rng.random()
        if r < 0.8:
            consent(p, "Sale or Sharing of Personal Information", "ACTIVE", t,
                    point="Cookie Banner")
        elif r < 0.95:
            consent(p, "Sale or Sharing of Personal Information", "OPT_OUT", None,
                    t + timedelta(days=rng.randint(0, 19)), point="Do Not Sell or Share Link")
        else:
            consent(p, "Sale or Sharing of Personal Information", "NO_CONSENT", t,
                    point="Cookie Banner")


# --------------------------------------------------------------------------- planted cases
# Every time below is UTC. "Older than the SLA" = before 2026-02-26T00:00:00Z.

def plant() -> None:
    # ---- suppression gaps ------------------------------------------------------------
    # G1 email: opted out at the CMP preference center; Mailchimp still subscribed.
    p = person("G1", "Harriet", "Oyelaran", "harriet.oyelaran@inbox.example")
    consent(p, "Email Marketing", "OPT_OUT", at("2025-08-30 14:02:11"),
            at("2026-01-14 09:12:40"), "Preference Center", proof=True)
    mc_subscribed(p, at("2025-08-30 14:01:58"), at("2025-09-02 10:15:00"))
    add_crm(p, "true", at("2026-01-14 11:40:00"))
    # G2 email: withdrawn through customer service; Mailchimp still subscribed.
    p = person("G2", "Tomasz", "Brennan", "tomasz.brennan@mailhub.example")
    consent(p, "Email Marketing", "WITHDRAWN", at("2025-11-18 19:30:05"),
            at("2026-02-03 16:45:00"), "Customer Service", proof=True)
    mc_subscribed(p, at("2025-11-18 19:29:50"), at("2025-11-20 08:00:00"))
    add_crm(p, "true", at("2026-02-03 17:05:00"))
    # G3 email + crm: CMP opt-out reached neither Mailchimp nor Salesforce.
    p = person("G3", "Delphine", "Achterberg", "delphine.achterberg@postbox.example")
    consent(p, "Email Marketing", "OPT_OUT", at("2025-08-10 12:00:00"),
            at("2025-12-18 07:55:30"), "Preference Center", proof=True)
    mc_subscribed(p, at("2025-08-10 11:59:41"), at("2025-08-11 09:30:00"))
    add_crm(p, "false", at("2025-10-05 13:20:00"))
    # G4 crm: Mailchimp unsubscribe synced to the CMP, not to Salesforce.
    p = person("G4", "Kwame", "Lindqvist", "kwame.lindqvist@inbox.example")
    mc_unsubscribed(p, at("2025-07-02 10:11:12"), at("2026-01-27 21:14:09"),
                    "I no longer want to receive these emails")
    consent(p, "Email Marketing", "OPT_OUT", at("2025-07-02 10:11:30"),
            at("2026-01-28 01:20:00"), "Email Unsubscribe Sync", proof=True)
    add_crm(p, "false", at("2025-12-01 16:00:00"))
    # G5 crm: preference-center opt-out synced to Mailchimp, not to Salesforce.
    p = person("G5", "Inês", "Carvalho-Moreau", "ines.carvalho@letterbox.example")
    consent(p, "Email Marketing", "OPT_OUT", at("2025-07-15 08:00:00"),
            at("2026-02-09 12:30:00"), "Preference Center", proof=True)
    mc_unsubscribed(p, at("2025-07-15 07:59:40"), at("2026-02-09 13:31:00"),
                    "N/A (Unsubscribed by an admin)")
    add_crm(p, "false", at("2025-07-19 10:00:00"))
    # G6 cmp (email): Mailchimp unsubscribe never reached the CMP.
    p = person("G6", "Rafael", "Okonkwo", "rafael.okonkwo@mailhub.example")
    mc_unsubscribed(p, at("2025-07-03 15:39:41"), at("2026-01-08 20:02:44"),
                    "I never signed up for this mailing list")
    consent(p, "Email Marketing", "ACTIVE", at("2025-07-03 15:40:00"), None,
            "Website Signup Form", proof=True)
    add_crm(p, "true", at("2026-01-09 06:00:00"))
    # G7 cmp (sms): texted STOP; the CMP still has the keyword opt-in.
    p = person("G7", "Mei-Lin", "Fairweather", "meilin.fairweather@inbox.example")
    text(p, "START", at("2025-08-14 17:20:00"))
    text(p, "STOP", at("2026-02-02 08:05:00"))
    consent(p, "SMS Marketing", "ACTIVE", at("2025-08-14 17:22:10"), None, "SMS Keyword",
            proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-08-14 17:25:00"), None, "Web Checkout",
            proof=True)
    mc_subscribed(p, at("2025-08-14 17:24:50"), at("2025-08-14 17:31:00"))
    add_crm(p, "false", at("2025-11-02 12:00:00"))
    # G8 sms: opted out of SMS at the preference center; Twilio only saw the START.
    p = person("G8", "Oskar", "Pemberton", "oskar.pemberton@postbox.example")
    text(p, "START", at("2025-09-21 12:00:00"))
    consent(p, "SMS Marketing", "OPT_OUT", at("2025-09-21 12:01:00"),
            at("2026-01-30 18:30:00"), "Preference Center", proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-09-21 12:05:00"), None, "Web Checkout",
            proof=True)
    mc_subscribed(p, at("2025-09-21 12:04:40"), at("2025-09-21 12:10:00"))
    add_crm(p, "false", at("2025-09-22 09:00:00"))
    # G9 sms: SMS withdrawn via customer service; Twilio only saw START (+ a HELP).
    p = person("G9", "Amara", "Castellanos", "amara.castellanos@letterbox.example")
    text(p, "START", at("2025-10-02 09:00:00"))
    text(p, "HELP", at("2025-10-02 09:03:00"))
    consent(p, "SMS Marketing", "WITHDRAWN", at("2025-10-02 09:00:40"),
            at("2026-02-12 14:10:00"), "Customer Service", proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-10-02 09:10:00"), None, "Web Checkout",
            proof=True)
    add_crm(p, "false", at("2025-10-03 09:00:00"))
    # G10 ads: opted out of advertising; still uploaded (dotted Gmail, email hash only:
    # it matches only under Google's Gmail dot rule).
    p = person("G10", "Maya", "Thornbury", "maya.thornbury@gmail.com")
    consent(p, "Advertising", "OPT_OUT", at("2025-06-20 10:00:00"),
            at("2025-11-22 10:00:00"), "Cookie Banner", proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-06-20 10:02:00"), None,
            "Website Signup Form", proof=True)
    mc_subscribed(p, at("2025-06-20 10:01:40"), at("2025-06-20 10:09:00"))
    add_crm(p, "false", at("2025-08-01 12:00:00"), email="Maya.Thornbury@Gmail.com")
    in_audience(p, email=True, phone=False)
    # G11 ads: opted out of advertising; uploaded by phone hash only.
    p = person("G11", "Bertrand", "Ashdown", "bertrand.ashdown@mailhub.example")
    consent(p, "Advertising", "OPT_OUT", at("2025-07-11 09:00:00"),
            at("2026-01-05 15:30:00"), "Preference Center", proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-07-11 09:01:00"), None, "Web Checkout",
            proof=True)
    add_crm(p, "false", at("2025-07-12 09:00:00"))
    in_audience(p, email=False, phone=True)
    # G12 ads: opted out of advertising 13 days before as-of; uploaded with both hashes.
    p = person("G12", "Yusuf", "Halvorsen", "yusuf.halvorsen@inbox.example")
    consent(p, "Advertising", "OPT_OUT", at("2025-09-01 18:00:00"),
            at("2026-02-16 11:00:00"), "Cookie Banner", proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-09-01 18:03:00"), None, "Mobile App",
            proof=True)
    mc_subscribed(p, at("2025-09-01 18:02:30"), at("2025-09-01 18:07:00"))
    add_crm(p, "false", at("2025-09-03 10:00:00"))
    in_audience(p, email=True, phone=True)

    # ---- pending syncs (deciding denial inside the 72 h before as-of) ------------------
    # P13 email + crm: CMP opt-out 32 h 40 min before as-of.
    p = person("P13", "Greta", "Solberg", "greta.solberg@postbox.example")
    consent(p, "Email Marketing", "OPT_OUT", at("2025-10-11 18:00:00"),
            at("2026-02-27 15:20:00"), "Preference Center", proof=True)
    mc_subscribed(p, at("2025-10-11 17:59:30"), at("2025-10-11 18:02:00"))
    add_crm(p, "false", at("2025-12-03 09:00:00"))
    # P14 cmp (sms): texted STOP 14 h 48 min before as-of.
    p = person("P14", "Nikolai", "Ferreira", "nikolai.ferreira@letterbox.example")
    text(p, "START", at("2025-11-05 20:10:00"))
    text(p, "STOP", at("2026-02-28 09:12:00"))
    consent(p, "SMS Marketing", "ACTIVE", at("2025-11-05 20:11:30"), None, "SMS Keyword",
            proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-11-05 20:15:00"), None, "Web Checkout",
            proof=True)
    mc_subscribed(p, at("2025-11-05 20:14:40"), at("2025-11-05 20:20:00"))
    add_crm(p, "false", at("2025-11-06 08:00:00"))
    # P15 cmp + crm (email): Mailchimp unsubscribe 51 h 55 min before as-of.
    p = person("P15", "Lucia", "Marchetti", "lucia.marchetti@inbox.example")
    mc_unsubscribed(p, at("2025-06-28 10:59:30"), at("2026-02-26 20:05:00"),
                    "The emails are too frequent")
    consent(p, "Email Marketing", "ACTIVE", at("2025-06-28 11:00:00"), None,
            "Website Signup Form", proof=True)
    add_crm(p, "false", at("2025-09-14 12:00:00"))

    # ---- over-suppression (expected granted after a re-consent with evidence) ----------
    # O16 crm: an old CRM opt-out; later re-consent at checkout (with receipt).
    p = person("O16", "Samuel", "Whitcombe", "samuel.whitcombe@mailhub.example")
    add_crm(p, "true", at("2025-07-22 08:30:00"))
    consent(p, "Email Marketing", "ACTIVE", at("2025-12-06 13:15:00"), None, "Web Checkout",
            proof=True)
    mc_subscribed(p, at("2025-12-06 13:15:20"), at("2025-12-06 13:25:00"),
                  confirm=at("2025-12-06 13:25:00"))
    # O17 email: an old Mailchimp unsubscribe; later re-consent in the app (with receipt).
    p = person("O17", "Fatima", "Zielinski", "fatima.zielinski@postbox.example")
    mc_unsubscribed(p, at("2025-06-12 09:00:00"), at("2025-08-30 07:45:00"), "Other")
    consent(p, "Email Marketing", "ACTIVE", at("2026-01-18 10:05:00"), None, "Mobile App",
            proof=True)
    add_crm(p, "false", at("2026-01-19 04:00:00"))
    # O18 sms: an old STOP; later SMS re-consent at checkout (with receipt).
    p = person("O18", "Dmitri", "Abernathy", "dmitri.abernathy@letterbox.example")
    text(p, "START", at("2025-06-30 12:00:00"))
    text(p, "STOP", at("2025-09-09 22:40:00"))
    consent(p, "SMS Marketing", "ACTIVE", at("2026-01-25 16:00:00"), None, "Web Checkout",
            proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-06-30 12:05:00"), None, "Web Checkout",
            proof=True)
    add_crm(p, "false", at("2025-07-01 12:00:00"))

    # ---- exactly one unverified re-subscribe ------------------------------------------
    # U19 email: CMP opt-out, then a Mailchimp pop-up signup the CMP never saw.
    p = person("U19", "Clara", "Nakashima", "clara.nakashima@inbox.example")
    consent(p, "Email Marketing", "OPT_OUT", at("2025-06-15 09:00:00"),
            at("2025-12-05 18:40:00"), "Preference Center", proof=True)
    add_crm(p, "true", at("2025-12-05 21:00:00"))
    mc_subscribed(p, at("2026-01-20 12:30:00"), at("2026-01-20 12:34:10"),
                  confirm=at("2026-01-20 12:34:10"))

    # ---- unconfirmed grant: imported into Mailchimp, no consent anywhere ---------------
    p = person("C20", "Wendell", "Strand", "wendell.strand@mailhub.example", phone=False)
    mc_subscribed(p, None, at("2025-10-02 08:00:00"))

    # ---- identity conflict: one email, two Salesforce contacts, two customer numbers --
    p = person("I21", "Priya", "Natarajan", "priya.natarajan@postbox.example")
    consent(p, "Email Marketing", "ACTIVE", at("2025-08-08 08:08:00"), None, "In-Store POS",
            proof=True)
    mc_subscribed(p, at("2025-08-08 08:07:30"), at("2025-08-08 08:15:00"))
    add_crm(p, "false", at("2025-08-09 10:00:00"), dnc="false", number="NW-104411",
            email="Priya.Natarajan@postbox.example")
    add_crm(p, "false", at("2025-11-30 15:45:00"), dnc="false", number="NW-118032",
            phone=False, email="priya.natarajan@postbox.example ")

    # ---- unmapped values -------------------------------------------------------------
    p = person("X22", "Hugo", "Brandt", "hugo.brandt@inbox.example")
    consent(p, "Email Marketing", "ACTIVE", at("2025-09-09 09:09:00"), None, "Web Checkout",
            proof=True)
    mc_subscribed(p, at("2025-09-09 09:08:40"), at("2025-09-09 09:15:00"))
    add_crm(p, "Maybe", at("2025-10-10 10:10:00"))
    p = person("X23", "Noor", "Haddad", "noor.haddad@letterbox.example")
    consent(p, "Analytics Cookies", "PAUSED", at("2025-12-12 12:12:00"), None, "Cookie Banner",
            proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-07-07 07:07:00"), None,
            "Website Signup Form", proof=True)
    mc_subscribed(p, at("2025-07-07 07:06:40"), at("2025-07-07 07:12:00"))
    add_crm(p, "false", at("2025-07-08 10:00:00"))

    # ---- Mailchimp "cleaned" (hard bounces): no preference → missing_preference -------
    for label, first, last, email, optin, cleaned in [
        ("M24", "Ottilie", "Granger", "ottilie.granger@parcelpost.example",
         "2025-06-18 10:00:00", "2025-11-03 04:12:00"),
        ("M25", "Bastian", "Kruger", "bastian.kruger@inbox.example",
         "2025-08-21 16:30:00", "2026-01-16 02:40:00"),
        ("M26", "Rosalind", "Achebe", "rosalind.achebe@mailhub.example",
         "2025-09-30 11:45:00", "2026-02-07 22:05:00"),
    ]:
        p = person(label, first, last, email, phone=False)
        consent(p, "Email Marketing", "ACTIVE", at(optin) + timedelta(seconds=20), None,
                "Website Signup Form", proof=True)
        mc_cleaned(p, at(optin), at(cleaned))
        add_crm(p, "false", at(optin) + timedelta(days=1))

    # ---- quarantined rows ------------------------------------------------------------
    # Q27: Salesforce row with an impossible LastModifiedDate → quarantined.
    p = person("Q27", "Ezra", "Whitlock", "ezra.whitlock@postbox.example", phone=False)
    consent(p, "Email Marketing", "ACTIVE", at("2025-10-20 10:00:00"), None, "Web Checkout",
            proof=True)
    mc_subscribed(p, at("2025-10-20 09:59:40"), at("2025-10-20 10:05:00"))
    add_crm(p, "false", "2026-13-45T10:00:00.000Z")
    # Q28: OneTrust row with an unquoted comma in Collection Point → ragged, quarantined.
    p = person("Q28", "Sunniva", "Lund", "sunniva.lund@postbox.example", phone=False)
    consent(p, "Email Marketing", "ACTIVE", at("2025-09-14 10:20:00"), None, "Web Checkout",
            proof=True)
    consent(p, "Analytics Cookies", "ACTIVE", at("2025-09-14 10:22:03"), None,
            "Web Checkout, Mobile", proof=True, ragged=True)
    mc_subscribed(p, at("2025-09-14 10:19:40"), at("2025-09-14 10:25:00"))
    add_crm(p, "false", at("2025-09-15 10:00:00"))

    # ---- notable but finding-free ----------------------------------------------------
    # N29: opted out of sale/sharing, advertising still ACTIVE and in the audience:
    # different purposes, so DESIGN §5 gives no finding (see PLANTED.md, doubts).
    p = person("N29", "Tobias", "Renner", "tobias.renner@inbox.example")
    consent(p, "Sale or Sharing of Personal Information", "OPT_OUT", None,
            at("2025-12-01 20:00:00"), "Do Not Sell or Share Link", proof=True)
    consent(p, "Advertising", "ACTIVE", at("2025-08-01 12:00:00"), None, "Cookie Banner",
            proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-08-01 12:01:00"), None, "Web Checkout",
            proof=True)
    add_crm(p, "false", at("2025-08-02 12:00:00"))
    in_audience(p)
    # N30, N31: Gmail addresses with dots / a plus suffix, consistent, in the audience.
    p = person("N30", "Jordan", "Pike", "jordan.a.pike@gmail.com", phone=False)
    consent(p, "Advertising", "ACTIVE", at("2025-10-10 10:00:00"), None, "Cookie Banner",
            proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-10-10 10:01:00"), None, "Web Checkout",
            proof=True)
    mc_subscribed(p, at("2025-10-10 10:00:40"), at("2025-10-10 10:06:00"))
    add_crm(p, "false", at("2025-10-11 12:00:00"), email="Jordan.A.Pike@gmail.com")
    in_audience(p)
    p = person("N31", "Samira", "Okafor", "samira.okafor+northwind@gmail.com")
    consent(p, "Advertising", "ACTIVE", at("2025-11-11 11:00:00"), None, "Cookie Banner",
            proof=True)
    consent(p, "Email Marketing", "ACTIVE", at("2025-11-11 11:01:00"), None, "Mobile App",
            proof=True)
    mc_subscribed(p, at("2025-11-11 11:00:40"), at("2025-11-11 11:06:00"))
    add_crm(p, "false", at("2025-11-12 12:00:00"), email=" Samira.Okafor+Northwind@gmail.com")
    in_audience(p, email=True, phone=False)


# --------------------------------------------------------------------------- fillers

def filler_email_granted(p: Person, signup: datetime, in_mailchimp: bool,
                         in_crm: bool = True) -> None:
    consent(p, "Email Marketing", "ACTIVE",
            signup + timedelta(seconds=rng.randint(5, 90)), None,
            rng.choice(["Website Signup Form", "Web Checkout", "Mobile App", "In-Store POS"]))
    if in_mailchimp:  # double opt-in: confirmed minutes after the signup
        confirm = signup + timedelta(seconds=rng.randint(40, 2400))
        mc_subscribed(p, signup, confirm, confirm=confirm)
    if in_crm:
        add_crm(p, "false", signup + crm_sync_lag())


def crm_sync_lag() -> timedelta:
    """The nightly Salesforce sync: hours, and now and then days when a run failed."""
    if rng.random() < 0.04:
        return timedelta(hours=rng.randint(80, 200))
    return timedelta(minutes=rng.randint(10, 26 * 60))


def filler_email_denied(p: Person, signup: datetime) -> None:
    if rng.random() < 0.06:  # never consented: the CMP records NO_CONSENT
        consent(p, "Email Marketing", "NO_CONSENT", signup, None, "In-Store POS")
        add_crm(p, "true", signup + crm_sync_lag())
        return
    unsub = between(signup + timedelta(days=3), QUIET_END)
    if rng.random() < 0.6:  # unsubscribed in a Mailchimp footer; synced onwards
        mc_unsubscribed(p, signup, unsub, rng.choice([
            "I no longer want to receive these emails", "The emails are too frequent",
            "I never signed up for this mailing list", "Other"]))
        consent(p, "Email Marketing", "OPT_OUT", signup + timedelta(seconds=rng.randint(5, 90)),
                unsub + timedelta(minutes=rng.randint(20, 360)), "Email Unsubscribe Sync")
    else:  # opted out at the CMP; pushed to Mailchimp when the member exists there
        consent(p, "Email Marketing", rng.choice(["OPT_OUT", "OPT_OUT", "WITHDRAWN"]),
                signup + timedelta(seconds=rng.randint(5, 90)), unsub,
                rng.choice(["Preference Center", "Preference Center", "Customer Service"]))
        if rng.random() < 0.7:
            mc_unsubscribed(p, signup, unsub + timedelta(minutes=rng.randint(5, 180)),
                            "N/A (Unsubscribed by an admin)")
    add_crm(p, "true", unsub + crm_sync_lag())


def filler_sms(p: Person) -> None:
    r = rng.random()
    if r < 0.52:  # opted in by keyword; the CMP records it minutes later
        start = between(EARLY, QUIET_END - timedelta(days=5))
        text(p, "START", start)
        if rng.random() < 0.12:
            text(p, "HELP", start + timedelta(minutes=rng.randint(1, 600)))
        consent(p, "SMS Marketing", "ACTIVE", start + timedelta(seconds=rng.randint(30, 600)),
                None, "SMS Keyword")
    elif r < 0.70:  # opted in at checkout; no inbound text
        consent(p, "SMS Marketing", "ACTIVE", between(EARLY, QUIET_END), None, "Web Checkout")
    elif r < 0.76:  # double opt-in not confirmed yet
        consent(p, "SMS Marketing", "PENDING", between(EARLY, QUIET_END), None, "Web Checkout")
    else:  # texted STOP; the CMP records the opt-out minutes to hours later
        start = between(EARLY, QUIET_END - timedelta(days=40))
        stop = between(start + timedelta(days=2), QUIET_END)
        by_keyword = rng.random() < 0.6
        if by_keyword:
            text(p, "START", start)
        if rng.random() < 0.12:
            text(p, "HELP", start + timedelta(minutes=rng.randint(1, 600)))
        text(p, "STOP", stop)
        if rng.random() < 0.1:  # said it twice
            text(p, "STOP", stop + timedelta(minutes=rng.randint(1, 30)))
        consent(p, "SMS Marketing", "OPT_OUT", start + timedelta(seconds=rng.randint(30, 600)),
                stop + timedelta(minutes=rng.randint(5, 360)), "SMS STOP Sync")


def filler_advertising(p: Person) -> None:
    r = rng.random()
    if r < 0.40:
        consent(p, "Advertising", "ACTIVE", between(EARLY, QUIET_END), None, "Cookie Banner")
        if rng.random() < 0.65:
            audience(p)
    elif r < 0.50:
        t = between(EARLY, QUIET_END - timedelta(days=30))
        consent(p, "Advertising", "OPT_OUT", t, t + timedelta(days=rng.randint(1, 30)),
                rng.choice(["Cookie Banner", "Preference Center"]))
    elif rng.random() < 0.12:  # no CMP record: the audience's own (untimed) grant decides
        audience(p)


def audience(p: Person) -> None:
    with_email = rng.random() < 0.9 or not p.phone
    with_phone = bool(p.phone) and (rng.random() < 0.6 or not with_email)
    in_audience(p, email=with_email, phone=with_phone)


def fillers() -> None:
    for _ in range(230):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        p = Person("filler", first, last, new_email(first, last),
                   take_phone() if rng.random() < 0.85 else None)
        PEOPLE.append(p)
        signup = between(EARLY, datetime(2026, 1, 31, tzinfo=UTC))
        if rng.random() < 0.8:
            filler_email_granted(p, signup, in_mailchimp=rng.random() < 0.88)
        else:
            filler_email_denied(p, signup)
        if p.phone and rng.random() < 0.25:
            filler_sms(p)
        filler_advertising(p)
        cookie_choices(p)
    # Newsletter-only signups: Mailchimp + CMP, not (yet) customers in Salesforce.
    for _ in range(5):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        p = Person("newsletter", first, last, new_email(first, last))
        PEOPLE.append(p)
        filler_email_granted(p, between(EARLY, datetime(2026, 1, 31, tzinfo=UTC)),
                             in_mailchimp=True, in_crm=False)
        cookie_choices(p)
    # In-store customers without an email: a placeholder Salesforce will not leave empty.
    spellings = ["noemail@northwind.example", "NoEmail@northwind.example",
                 "NOEMAIL@NORTHWIND.EXAMPLE", " noemail@northwind.example"]
    for i in range(32):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        p = Person("placeholder", first, last, None,
                   take_phone() if rng.random() < 0.5 else None)
        PEOPLE.append(p)
        add_crm(p, "true", between(EARLY, QUIET_END), email=spellings[i % len(spellings)])
    # Audience rows that match nobody else (uploaded from an old loyalty list).
    for _ in range(3):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        p = Person("ads-only", first, last, new_email(first, last), take_phone())
        PEOPLE.append(p)
        in_audience(p, email=True, phone=rng.random() < 0.5)
    # Numbers that only ever texted HELP (ignored rows, no record).
    for _ in range(2):
        p = Person("help-only", "", "", None, take_phone())
        PEOPLE.append(p)
        text(p, "HELP", between(EARLY, QUIET_END))


# --------------------------------------------------------------------------- web systems
# The storefront's consent banner (a TCF CMP) logs one JSON line per consent event;
# a Segment-like analytics tool keeps one profile per browser (anonymousId) with the
# consent categories it last received. Both are generated from their own RNG after
# the five older exports are written, so those stay byte for byte unchanged.

web_rng = random.Random(20260302)
WEB_START = datetime(2025, 9, 1, tzinfo=UTC)

#: TC string core-segment constants (a fictional CMP; TCF v2.2 = policy version 4).
TCF_CMP_ID, TCF_CMP_VERSION, TCF_CONSENT_SCREEN, TCF_VENDOR_LIST = 4000, 7, 2, 120
TCF_ANALYTICS = frozenset({8, 9})             # measure content / audiences
TCF_ADVERTISING = frozenset({2, 3, 4, 7})     # select/profile ads, measure ads
TCF_PERSONALIZATION = frozenset({5, 6})       # profile / select personalised content
_B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: Public GPP vectors (STANDARDS.md) plus the opted-out US Privacy form of the first.
GPP_USP_NOT_OPTED_OUT = "DBABTA~1YNN"     # uspv1: sale_sharing granted
GPP_USP_OPTED_OUT = "DBABTA~1YYN"         # uspv1: sale_sharing denied
GPP_USNAT_OPTED_OUT = "DBABLA~BVVVVVVVVWA"  # usnat v1: sale_sharing + advertising denied
GPP_STATES = {
    GPP_USP_NOT_OPTED_OUT: {"sale_sharing": "granted"},
    GPP_USP_OPTED_OUT: {"sale_sharing": "denied"},
    GPP_USNAT_OPTED_OUT: {"sale_sharing": "denied", "advertising": "denied"},
}


def _uint(value: int, width: int) -> str:
    assert 0 <= value < 1 << width, (value, width)
    return format(value, f"0{width}b")


def _letters(code: str) -> str:
    return "".join(_uint(ord(c) - ord("A"), 6) for c in code)


def _bitfield(ids: frozenset[int] | set[int], width: int) -> str:
    return "".join("1" if i in ids else "0" for i in range(1, width + 1))


def _deciseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=100)


def tc_string(purposes: frozenset[int], created: datetime, updated: datetime) -> str:
    """A TCF v2 TC string, core segment only, with the given purpose consents.

    No special features, no legitimate-interest transparency (consent only),
    no vendors (MaxVendorId 0, bit-field encoding) and no publisher restrictions.
    """
    bits = "".join([
        _uint(2, 6),                                   # Version
        _uint(_deciseconds(created), 36),              # Created
        _uint(_deciseconds(updated), 36),              # LastUpdated
        _uint(TCF_CMP_ID, 12), _uint(TCF_CMP_VERSION, 12),
        _uint(TCF_CONSENT_SCREEN, 6), _letters("EN"),  # ConsentScreen, ConsentLanguage
        _uint(TCF_VENDOR_LIST, 12), _uint(4, 6),       # VendorListVersion, TcfPolicyVersion
        "1", "0",                                      # IsServiceSpecific, UseNonStandardTexts
        _bitfield(frozenset(), 12),                    # SpecialFeatureOptIns
        _bitfield(purposes, 24),                       # PurposesConsent
        _bitfield(frozenset(), 24),                    # PurposesLITransparency
        "0", _letters("AA"),                           # PurposeOneTreatment, PublisherCC
        _uint(0, 16), "0",                             # vendor consents: MaxVendorId, bit field
        _uint(0, 16), "0",                             # vendor LI: MaxVendorId, bit field
        _uint(0, 12),                                  # NumPubRestrictions
    ])
    bits += "0" * (-len(bits) % 6)
    return "".join(_B64URL[int(bits[i:i + 6], 2)] for i in range(0, len(bits), 6))


@dataclass(frozen=True)
class Choice:
    """What a visitor chose in the banner (and US opt-outs, for the GPP string)."""
    analytics: bool
    advertising: bool
    personalization: bool
    sale: bool = True

    def purposes(self) -> frozenset[int]:
        chosen = ((TCF_ANALYTICS | {10}) if self.analytics else frozenset()) \
            | (TCF_ADVERTISING if self.advertising else frozenset()) \
            | ((TCF_PERSONALIZATION | {11}) if self.personalization else frozenset())
        return frozenset(chosen | {1}) if chosen else frozenset()  # reject all: nothing

    def action(self) -> str:
        flags = (self.analytics, self.advertising, self.personalization)
        return "accept_all" if all(flags) else "reject_all" if not any(flags) else "save_choices"

    def states(self) -> dict[str, str]:
        """What the TCF rule must read from the string (verified in verify_signals)."""
        return {name: "granted" if getattr(self, name) else "denied"
                for name in ("analytics", "advertising", "personalization")}


@dataclass
class Device:
    label: str
    """``visitor``, ``anonymous`` or the planted case id."""
    device_id: str
    person: Person | None = None
    events: list[dict] = field(default_factory=list)
    analytics_user: dict | None = None


def web_id(prefix: str = "") -> str:
    h = f"{web_rng.getrandbits(128):032x}"
    if prefix:
        return prefix + h[:24]
    variant = f"{int(h[16], 16) & 0x3 | 0x8:x}"  # RFC 4122 version 4, variant 10xx
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def web_between(start: datetime, end: datetime) -> datetime:
    ms = int((end - start).total_seconds() * 1000)
    return start + timedelta(milliseconds=web_rng.randint(0, max(ms, 0)))


def web_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def banner_event(d: Device, when: datetime, choice: Choice, *, created: datetime,
                 email: str | None = None, action: str | None = None,
                 gpp: str | None = None, gpc: bool = False, tc: str | None = None) -> dict:
    event = {"event_id": web_id("evt_"), "action": action or choice.action(),
             "device_id": d.device_id}
    if email:
        event["email"] = email
    event["tc_string"] = tc or tc_string(choice.purposes(), created, created if action == "login"
                                         else when)
    if gpp:
        event["gpp_string"] = gpp
    if gpc:
        event["gpc"] = "1"
    event["ts"] = web_time(when)
    event["_choice"] = choice  # for verify_signals; never written
    event["_gpp"] = gpp
    d.events.append(event)
    return event


def analytics_profile(d: Device, when: datetime, choice: Choice, *, email: str | None = None,
                      user_id: str | None = None) -> None:
    d.analytics_user = {
        "anonymousId": d.device_id,
        "userId": user_id,
        "traits": {"email": email} if email else {},
        "context": {"consent": {"categoryPreferences": {
            "Advertising": choice.advertising, "Analytics": choice.analytics,
            "Functional": True}}},
        "receivedAt": web_time(when),
    }


COOKIE_PURPOSES = {"Analytics Cookies": "analytics", "Advertising": "advertising",
                   "Sale or Sharing of Personal Information": "sale"}
_GRANTED_STATUS = {"ACTIVE", "ALWAYS_ACTIVE"}
_DENIED_STATUS = {"OPT_OUT", "HARD_OPT_OUT", "WITHDRAWN", "NO_CONSENT"}


def cookie_records(p: Person) -> dict[str, tuple[bool, datetime]]:
    """The person's OneTrust choices on the keys the web systems also hold."""
    found = {}
    for c in p.cmp:
        name = COOKIE_PURPOSES.get(c["Purpose Name"])
        if name:
            assert c["Status"] in _GRANTED_STATUS | _DENIED_STATUS, c
            when = datetime.fromisoformat((c["Withdrawal Date"] or c["Consent Date"])
                                          .replace("Z", "+00:00"))
            found[name] = (c["Status"] in _GRANTED_STATUS, when)
    return found


def web_eligible(p: Person) -> bool:
    """A customer whose logged-in banner choice can agree with every other system.

    At most one OneTrust cookie record (the banner event is timed just before it,
    so OneTrust shows seconds of lag, not months), and none that is EXPIRED,
    PAUSED or PENDING (dated at the original consent, or not a choice).
    """
    if p.label not in ("filler", "newsletter") or not p.email or len(p.crm) > 1:
        return False
    statuses = [c["Status"] for c in p.cmp if c["Purpose Name"] in COOKIE_PURPOSES]
    return len(statuses) <= 1 and all(s in _GRANTED_STATUS | _DENIED_STATUS for s in statuses)


def customer_no(p: Person) -> str | None:
    return p.crm[0]["Customer_Number__c"] if len(p.crm) == 1 else None


def by_email(email: str) -> Person:
    (p,) = [p for p in PEOPLE if p.email == email]
    return p


def web_systems() -> tuple[list[dict], list[dict]]:
    devices: list[Device] = []
    planted = plant_web(devices)
    taken = {id(d.person) for d in planted if d.person}
    pool = [p for p in PEOPLE if web_eligible(p) and id(p) not in taken]
    for p in web_rng.sample(pool, 44):
        devices.append(visitor(p))
    for _ in range(22):
        devices.append(anonymous_visitor())
    events = sorted((e for d in devices for e in d.events), key=lambda e: (e["ts"], e["event_id"]))
    users = sorted((d.analytics_user for d in devices if d.analytics_user),
                   key=lambda u: (u["receivedAt"], u["anonymousId"]))
    return events, users


def visitor(p: Person) -> Device:
    """A logged-in customer: one choice that agrees with OneTrust and the audience."""
    records = cookie_records(p)
    choice = Choice(
        analytics=records["analytics"][0] if "analytics" in records else web_rng.random() < 0.7,
        advertising=(records["advertising"][0] if "advertising" in records
                     else True if p.ads else web_rng.random() < 0.55),
        personalization=web_rng.random() < 0.5,
        sale=records["sale"][0] if "sale" in records else web_rng.random() < 0.8,
    )
    assert not (p.ads and not choice.advertising), p.email  # audience members are granted
    if records:  # the banner is where the choice was made; OneTrust got it seconds later
        (_, anchor), = records.values()
        when = anchor - timedelta(milliseconds=web_rng.randint(15_000, 180_000))
    else:
        when = web_between(WEB_START, QUIET_END)
    gpp = None
    if web_rng.random() < 0.4:
        gpp = GPP_USP_NOT_OPTED_OUT if choice.sale else GPP_USP_OPTED_OUT
        if not choice.sale and not choice.advertising and "advertising" not in records \
                and web_rng.random() < 0.5:
            gpp = GPP_USNAT_OPTED_OUT
    d = Device("visitor", web_id(), p)
    login = p.email if web_rng.random() < 0.85 else p.email.capitalize()
    last = when
    if web_rng.random() < 0.3:  # chose before logging in; the CMP re-logs the string at login
        banner_event(d, when, choice, created=when, gpp=gpp)
        last = when + timedelta(milliseconds=web_rng.randint(60_000, 2_400_000))
        banner_event(d, last, choice, created=when, email=login, action="login", gpp=gpp)
    else:
        banner_event(d, when, choice, created=when, email=login, gpp=gpp)
    if web_rng.random() < 0.85:
        analytics_profile(d, last + timedelta(milliseconds=web_rng.randint(800, 8000)), choice,
                          email=p.email, user_id=customer_no(p))
    return d


def anonymous_visitor() -> Device:
    """A browser never seen logged in: its own person (device id only)."""
    r = web_rng.random()
    if r < 0.5:
        choice = Choice(True, True, True, sale=web_rng.random() < 0.85)
    elif r < 0.7:
        choice = Choice(False, False, False, sale=web_rng.random() < 0.4)
    else:
        choice = Choice(web_rng.random() < 0.6, web_rng.random() < 0.4, web_rng.random() < 0.5,
                        sale=web_rng.random() < 0.7)
    when = web_between(WEB_START, QUIET_END)
    gpp = None
    if web_rng.random() < 0.4:
        gpp = GPP_USP_NOT_OPTED_OUT if choice.sale else (
            GPP_USNAT_OPTED_OUT if not choice.advertising else GPP_USP_OPTED_OUT)
    d = Device("anonymous", web_id())
    banner_event(d, when, choice, created=when, gpp=gpp)
    if web_rng.random() < 0.8:
        analytics_profile(d, when + timedelta(milliseconds=web_rng.randint(800, 8000)), choice)
    return d


def plant_web(devices: list[Device]) -> list[Device]:
    """The planted web cases (PLANTED.md §2, A32, N33, Q34, N35)."""
    # A32: accepted everything in November; on 10 Feb turned analytics off in the
    # banner. The analytics tool never got the update and still tracks them.
    p = by_email("xavier.rahman@parcelpost.example")
    assert web_eligible(p) and not cookie_records(p) and not p.ads
    d = Device("A32", "5b0e7c1a-93d2-4f4e-8a61-2c9d7e305f18", p)
    yes = Choice(True, True, True)
    no_analytics = Choice(False, True, True)
    created = at("2025-11-19 10:14:05") + timedelta(milliseconds=231)
    banner_event(d, created, yes, created=created, email=p.email)
    analytics_profile(d, at("2025-11-19 10:14:09") + timedelta(milliseconds=877), yes,
                      email=p.email, user_id=customer_no(p))
    banner_event(d, at("2026-02-10 19:42:10") + timedelta(milliseconds=412), no_analytics,
                 created=created, email=p.email)
    devices.append(d)

    # N33: a browser sending Global Privacy Control (Sec-GPC: 1), logged in as a customer
    # who opted out of sale/sharing; OneTrust recorded that opt-out 45 s later. Declines
    # ads and personalisation in the banner too; the analytics tool has Advertising false.
    p = by_email("sakura.zeller@mailhub.example")
    records = cookie_records(p)
    assert web_eligible(p) and set(records) == {"sale"} and not records["sale"][0]
    assert not p.ads
    d = Device("N33", "e2f41b9c-0d57-4a38-b3e6-71a5c8d02f94", p)
    choice = Choice(True, False, False, sale=False)
    when = records["sale"][1] - timedelta(seconds=45)
    banner_event(d, when, choice, created=when, email=p.email, gpc=True)
    analytics_profile(d, when + timedelta(milliseconds=2210), choice, email=p.email,
                      user_id=customer_no(p))
    devices.append(d)

    # Q34: an anonymous browser's only banner event; the log pipeline cut the TC string
    # at 29 characters → undecodable → the row is quarantined. The analytics tool still
    # has the browser (accepted everything), so the run goes on and nothing else changes.
    d = Device("Q34", "9c3a5e70-1f8b-4d26-a4c9-e0b7f6123d85")
    choice = Choice(True, True, True)
    when = at("2026-01-23 14:05:51") + timedelta(milliseconds=640)
    banner_event(d, when, choice, created=when, tc=tc_string(choice.purposes(), when, when)[:29])
    analytics_profile(d, when + timedelta(milliseconds=3120), choice)
    devices.append(d)

    # N35: an anonymous browser that rejected everything, then accepted analytics five
    # days later; the analytics tool has the later choice. The re-grant comes from the
    # banner, which carries evidence (capture source + event id), so it counts.
    d = Device("N35", "7ad8e2c4-65b1-4f0a-9e3d-b4c1f5a8e276")
    first = at("2025-12-02 08:31:17") + timedelta(milliseconds=95)
    later = at("2025-12-07 21:03:44") + timedelta(milliseconds=508)
    banner_event(d, first, Choice(False, False, False), created=first)
    banner_event(d, later, Choice(True, False, False), created=first)
    analytics_profile(d, later + timedelta(milliseconds=1650), Choice(True, False, False))
    devices.append(d)
    return devices


def write_web(events: list[dict], users: list[dict]) -> None:
    lines = [json.dumps({k: v for k, v in e.items() if not k.startswith("_")},
                        ensure_ascii=False) for e in events]
    (EXPORTS / "cmp_banner_log.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    lines = [json.dumps(u, ensure_ascii=False) for u in users]
    (EXPORTS / "analytics_users.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def verify_signals(events: list[dict]) -> None:
    """Decode every emitted string with the project's own decoders (when importable).

    Generation needs only the standard library; this check needs prefsync_audit.
    """
    sys.path.insert(0, str(HERE.parent.parent))
    try:
        from prefsync_audit.errors import SignalDecodeError
        from prefsync_audit.signals import decode, decode_tcf, to_preferences
    except ImportError:
        print("prefsync_audit not importable: signal strings not verified", file=sys.stderr)
        return
    undecodable = 0
    for e in events:
        choice: Choice = e["_choice"]
        try:
            tc = decode_tcf(e["tc_string"])
        except SignalDecodeError:
            undecodable += 1
            continue
        assert tc.purposes_consent == choice.purposes(), e
        states = dict(to_preferences(tc))
        assert {k: states[k] for k in choice.states()} == choice.states(), e
        assert web_time(tc.last_updated) <= e["ts"], e
        if e["_gpp"]:
            assert dict(to_preferences(decode("gpp", e["_gpp"]))) == GPP_STATES[e["_gpp"]], e
    assert undecodable == 1, undecodable


# --------------------------------------------------------------------------- writers

def write_csv(path: Path, header: list[str], rows: list[dict], *,
              quote_all: bool = False, bom: bool = False, raw_lines: dict | None = None) -> None:
    """Write rows; ``raw_lines`` maps a row index to a hand-written (ragged) line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n",
                        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for i, row in enumerate(rows):
        if raw_lines and i in raw_lines:
            buffer.write(raw_lines[i] + "\n")
        else:
            writer.writerow([row.get(name, "") for name in header])
    path.parent.mkdir(parents=True, exist_ok=True)
    data = buffer.getvalue().encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)


def write_all() -> None:
    crm = sorted((r for p in PEOPLE for r in p.crm), key=lambda r: r["Id"])
    write_csv(EXPORTS / "crm_contacts.csv",
              ["Id", "Email", "Phone", "Customer_Number__c", "HasOptedOutOfEmail", "DoNotCall",
               "LastModifiedDate"], crm, quote_all=True)

    base = ["Email Address", "First Name", "Last Name", "MEMBER_RATING", "OPTIN_TIME",
            "CONFIRM_TIME", "LAST_CHANGED", "LEID", "EUID"]
    extra = {"subscribed": [], "unsubscribed": ["UNSUB_TIME", "UNSUB_REASON"],
             "cleaned": ["CLEAN_TIME"]}
    members = [p.mailchimp for p in PEOPLE if p.mailchimp]
    for status, more in extra.items():
        rows = sorted((m for m in members if m["status"] == status),
                      key=lambda m: (m["OPTIN_TIME"] or m["LAST_CHANGED"], m["EUID"]))
        write_csv(MAILCHIMP / f"{status}_email_audience_export_{AUDIENCE_ID}.csv",
                  base + more, rows)

    texts = sorted((t for p in PEOPLE for t in p.sms),
                   key=lambda t: (t["date_sent"], t["From"]), reverse=True)
    write_csv(EXPORTS / "twilio_optouts.csv",
              ["From", "To", "Body", "OptOutType", "date_sent"], texts)

    header = ["Identifier", "Purpose Name", "Purpose Version", "Status", "Consent Date",
              "Withdrawal Date", "Collection Point", "Receipt Id"]
    consents = sorted((c for p in PEOPLE for c in p.cmp),
                      key=lambda c: (c["Identifier"].strip().lower(), c["Purpose Name"]))
    ragged = {i: ",".join(c[name] for name in header)  # the comma in Collection Point is unquoted
              for i, c in enumerate(consents) if c["_ragged"]}
    write_csv(EXPORTS / "onetrust_consents.csv", header, consents, bom=True, raw_lines=ragged)

    uploads = [p.ads for p in PEOPLE if p.ads]
    rng.shuffle(uploads)
    write_csv(EXPORTS / "customer_match_audience.csv",
              ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"], uploads)


def main() -> None:
    plant()
    fillers()
    write_all()
    events, users = web_systems()
    write_web(events, users)
    verify_signals(events)
    print(f"{len(PEOPLE)} people written to {EXPORTS.relative_to(HERE.parent.parent)}/")


if __name__ == "__main__":
    main()
