"""The generated ``audit.yaml`` and its mapping files (``mappings/*.yaml``).

Written as text, with comments, so a user can read how each export is mapped
and change it. The mappings are self-contained (no presets): the policy they
encode is what :mod:`truth` assumes (the CMP is the authority for email and
SMS marketing grants, Mailchimp must hold email marketing, 72 h SLA).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prefsync_audit.generate.identities import LISTED_PLACEHOLDER

SLA_HOURS = 72
MAX_RECORDS_PER_VALUE = 25

CRM = """\
# Salesforce Contact, Data Loader CSV: API names as headers, every value quoted,
# booleans `true`/`false`, datetimes `2026-02-10T10:30:00.000Z`.
description: Salesforce Contact (Data Loader) — email opt-out and Do Not Call flags
format: {fmt}
record_id: Id
identifiers:
  # The strong key: two customer numbers on one person is an identity conflict.
  customer_id:
    column: Customer_Number__c
  # Typed by store associates: case and stray spaces vary; placeholders occur.
  email:
    column: Email
  # US numbers in every spelling, normalized to E.164 with the default region.
  phone:
    column: Phone
# Salesforce has no per-field change time: LastModifiedDate stands for both flags.
updated_at:
  column: LastModifiedDate
  format: iso8601
preferences:
  # "Opted out" booleans: true = denied, hence invert.
  - purpose: marketing
    channel: email
    state:
      column: HasOptedOutOfEmail
      vocabulary: boolean
      invert: true
  - purpose: marketing
    channel: phone
    state:
      column: DoNotCall
      vocabulary: boolean
      invert: true
"""

EMAIL = """\
# Mailchimp audience export: one file per member status, the status only in the
# file name. Times `YYYY-MM-DD HH:MM:SS`, UTC.
description: Mailchimp audience export (status from the file name)
format: {fmt}
file_name_fields:
  status: '^([a-z]+)_'
record_id: EUID
identifiers:
  email:
    column: Email Address
# UNSUB_TIME in the unsubscribed file, LAST_CHANGED elsewhere.
updated_at:
  column: [UNSUB_TIME, LAST_CHANGED]
  format: '%Y-%m-%d %H:%M:%S'
  timezone: UTC
vocabularies:
  mailchimp_status:
    subscribed: granted
    unsubscribed: denied
    # A hard bounce is a deliverability fact, not a choice: no observation.
    cleaned: ignore
    pending: unknown
    nonsubscribed: unknown
    transactional: unknown
preferences:
  - purpose: marketing
    channel: email
    state:
      column: status
      vocabulary: mailchimp_status
"""

SMS = """\
# Twilio inbound messages (the opt-out list is rebuilt from them). OptOutType is
# Twilio's own reading of the keyword; the free-text Body is evidence only.
description: Twilio inbound opt-out keywords (STOP/START/HELP)
format: {fmt}
identifiers:
  phone:
    column: From
updated_at:
  column: date_sent
  format: iso8601
# HELP changes nothing: left out on purpose, counted as rows_ignored.
ignore_rows:
  - column: OptOutType
    values: [HELP]
capture_source:
  value: SMS keyword
preferences:
  - purpose: marketing
    channel: sms
    state:
      column: OptOutType
      vocabulary: sms_keywords
"""

CMP = """\
# OneTrust consent receipts, flat export in long layout (one row per purpose).
description: OneTrust consent records (long layout, one row per purpose)
format: {fmt}
identifiers:
  email:
    column: Identifier
# A withdrawal is the latest transaction when present; else the consent date.
updated_at:
  column: [Withdrawal Date, Consent Date]
  format: iso8601
capture_source:
  column: Collection Point
proof:
  column: Receipt Id
ignore_rows:
  - column: Purpose Name
    values: [Strictly Necessary Cookies]
vocabularies:
  onetrust_status:
    ACTIVE: granted
    ALWAYS_ACTIVE: granted
    OPT_OUT: denied
    HARD_OPT_OUT: denied
    WITHDRAWN: denied
    NO_CONSENT: denied
    EXPIRED: denied
    PENDING: unknown
preferences:
  - purpose:
      column: Purpose Name
      values:
        Email Marketing: marketing
        SMS Marketing: marketing
        All Marketing Communications: marketing
        Analytics Cookies: analytics
        Sale or Sharing of Personal Information: sale_sharing
        Advertising: advertising
    channel:
      column: Purpose Name
      values:
        Email Marketing: email
        SMS Marketing: sms
        # A global opt-out: every marketing channel (DESIGN §5.1).
        All Marketing Communications: '*'
        Analytics Cookies: web
        Sale or Sharing of Personal Information: '*'
        Advertising: '*'
    state:
      column: Status
      vocabulary: onetrust_status
"""

ADS = """\
# Google Customer Match upload: Email and Phone are SHA-256 of the normalized
# value (Gmail dot/plus rule for emails, E.164 with "+" for phones).
description: Google Customer Match audience (hashed membership list)
format: {fmt}
identifiers:
  email_sha256:
    column: Email
    profile: google
  phone_sha256:
    column: Phone
    profile: plain
# Presence = targeted = advertising granted; no per-row time.
preferences:
  - purpose: advertising
    channel: '*'
    state: granted
"""

MAPPINGS = {"crm": CRM, "email": EMAIL, "sms": SMS, "cmp": CMP, "ads": ADS}

SYSTEM_BLOCKS = {
    "crm": """\
  crm:
    description: Salesforce Contacts (Data Loader export)
    paths: [exports/crm_contacts{ext}]
    mapping: mappings/crm.yaml
""",
    "email": """\
  email:
    description: Mailchimp audience (one file per status)
    paths: ["exports/mailchimp/*_email_audience_export_*{ext}"]
    mapping: mappings/email.yaml
    must_hold: [marketing/email]
""",
    "sms": """\
  sms:
    description: Twilio inbound messages (STOP/START/HELP)
    paths: [exports/twilio_messages{ext}]
    mapping: mappings/sms.yaml
""",
    "cmp": """\
  cmp:
    description: OneTrust consent receipts
    paths: [exports/onetrust_consents{ext}]
    mapping: mappings/cmp.yaml
""",
    "ads": """\
  ads:
    description: Google Customer Match audience
    paths: [exports/customer_match_audience{ext}]
    mapping: mappings/ads.yaml
""",
}

CONFIG = """\
# Generated by `prefsync-audit generate` — seed {seed}, {persons} persons, {fmt}.
# Every planted finding is listed in truth.parquet (rates and expected metrics in
# truth.json). Regenerate byte for byte with:
#   prefsync-audit generate DIR --persons {persons} --seed {seed}{options}
version: 1
name: Generated scenario (seed {seed}, {persons} persons)
# Fixed "now": the planted in-SLA and overdue syncs are relative to it.
as_of: {as_of}

systems:
{systems}
identity:
  strong_keys: [customer_id]
  default_region: US
  ignore:
    email: [{placeholder}]
  max_records_per_value: {max_records}

policy:
  authorities:
    - key: marketing/email
      system: cmp
    - key: marketing/sms
      system: cmp
  latency_sla: {sla}h
  regrant_requires_evidence: true
  sync_window: 30d

thresholds:
  suppression_gaps: {{warn: 0}}
  unverified_resubscribes: {{warn: 0}}
"""


def write_config(
    out: Path, seed: int, persons: int, fmt: str, as_of: int, systems: tuple[str, ...],
    options: str,
) -> None:  # fmt: skip
    ext = ".parquet" if fmt == "parquet" else ".csv"
    (out / "mappings").mkdir(parents=True, exist_ok=True)
    for system in systems:
        (out / "mappings" / f"{system}.yaml").write_text(MAPPINGS[system].format(fmt=fmt))
    stamp = datetime.fromtimestamp(as_of, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = CONFIG.format(
        seed=seed,
        persons=persons,
        fmt=fmt,
        options=options,
        as_of=stamp,
        systems="".join(SYSTEM_BLOCKS[s].format(ext=ext) for s in systems),
        placeholder=LISTED_PLACEHOLDER,
        max_records=MAX_RECORDS_PER_VALUE,
        sla=SLA_HOURS,
    )
    (out / "audit.yaml").write_text(text)
