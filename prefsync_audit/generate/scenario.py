"""The scenario model: what every system holds about every generated person.

Everything is a numpy array over persons (one value per person and *slot*: a
slot is one row a system may hold for the person, e.g. OneTrust's "Email
Marketing" row or Twilio's second message). Nothing here loops over persons:
cohorts and planted cases are drawn as arrays and filled in with masks.

Each person gets at most one *case* (:class:`Case`): a planted problem, a
special cohort (newsletter-only, placeholder email, ads-only, shared phone) or
nothing (a consistent "filler"). Fillers agree everywhere; a planted case
changes one preference key and leaves the others to the fillers, so cases and
fillers compose without interfering (keys are evaluated independently).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from prefsync_audit.generate._arrays import NA
from prefsync_audit.generate.drift import DriftRates, check_rates
from prefsync_audit.generate.identities import Identities, make_identities

SYSTEMS = ("crm", "email", "sms", "cmp", "ads")
HOUR = 3600
DAY = 86400


class Case(IntEnum):
    """What happens to one person (at most one case each)."""

    FILLER = 0
    NEWSLETTER = 1
    PLACEHOLDER = 2
    ADS_ONLY = 3
    SHARED_PHONE = 4
    GAP_EMAIL = 5
    GAP_GLOBAL = 6
    GAP_SMS = 7
    GAP_SMS_CMP = 8
    GAP_ADS = 9
    PENDING_EMAIL = 10
    PENDING_GLOBAL = 11
    PENDING_SMS = 12
    PENDING_SMS_CMP = 13
    PENDING_ADS = 14
    RESUB_EMAIL = 15
    RESUB_SMS = 16
    OVER_EMAIL = 17
    OVER_SMS = 18
    UNCONF_EMAIL = 19
    UNCONF_NEWSLETTER = 20
    UNCONF_SMS = 21
    CLEANED = 22
    CONFLICT = 23
    UNMAPPED_CRM = 24
    UNMAPPED_CMP = 25
    QUARANTINE_CRM = 26
    RAGGED_CMP = 27
    UNTIMED_DENIAL = 28


#: How each per-person drift rate is split over the cases that plant it.
CASE_SPLIT: dict[str, list[tuple[Case, float]]] = {
    "suppression_gap": [
        (Case.GAP_EMAIL, 0.5),
        (Case.GAP_GLOBAL, 0.1),
        (Case.GAP_SMS, 0.12),
        (Case.GAP_SMS_CMP, 0.08),
        (Case.GAP_ADS, 0.2),
    ],
    "pending_sync": [
        (Case.PENDING_EMAIL, 0.5),
        (Case.PENDING_GLOBAL, 0.1),
        (Case.PENDING_SMS, 0.12),
        (Case.PENDING_SMS_CMP, 0.08),
        (Case.PENDING_ADS, 0.2),
    ],
    "unverified_resubscribe": [(Case.RESUB_EMAIL, 0.7), (Case.RESUB_SMS, 0.3)],
    "over_suppression": [(Case.OVER_EMAIL, 0.7), (Case.OVER_SMS, 0.3)],
    "unconfirmed_grant": [
        (Case.UNCONF_EMAIL, 0.4),
        (Case.UNCONF_NEWSLETTER, 0.3),
        (Case.UNCONF_SMS, 0.3),
    ],
    "missing_preference": [(Case.CLEANED, 1.0)],
    "identity_conflict": [(Case.CONFLICT, 1.0)],
    "unmapped_value": [(Case.UNMAPPED_CRM, 0.6), (Case.UNMAPPED_CMP, 0.4)],
    "untimed_denial": [(Case.UNTIMED_DENIAL, 1.0)],
    "quarantined_row": [(Case.QUARANTINE_CRM, 0.6), (Case.RAGGED_CMP, 0.4)],
    "placeholder_email": [(Case.PLACEHOLDER, 1.0)],
    "shared_phone": [(Case.SHARED_PHONE, 1.0)],
    "newsletter_only": [(Case.NEWSLETTER, 1.0)],
    "ads_only": [(Case.ADS_ONLY, 1.0)],
}

# ---- codes used in the per-person arrays -------------------------------------------

#: Mailchimp member status (the file the member is exported in).
MC_NONE, MC_SUBSCRIBED, MC_UNSUBSCRIBED, MC_CLEANED = 0, 1, 2, 3
MC_FILES = {MC_SUBSCRIBED: "subscribed", MC_UNSUBSCRIBED: "unsubscribed", MC_CLEANED: "cleaned"}
#: Twilio inbound message types (``OptOutType``).
TW_NONE, TW_START, TW_STOP, TW_HELP = 0, 1, 2, 3
TW_SLOTS = 4
#: Salesforce HasOptedOutOfEmail / DoNotCall values.
CRM_FALSE, CRM_TRUE, CRM_WEIRD = 0, 1, 2
WEIRD_FLAGS = ["Maybe", "N/A", "unsure", "2"]
#: Phone on the Salesforce contact.
PHONE_NONE, PHONE_OWN, PHONE_STORE = 0, 1, 2
#: OneTrust purpose status.
CMP_STATUSES = [
    "",
    "ACTIVE",
    "OPT_OUT",
    "WITHDRAWN",
    "NO_CONSENT",
    "EXPIRED",
    "PENDING",
    "ALWAYS_ACTIVE",
    "PAUSED",
]
(
    ST_NONE,
    ST_ACTIVE,
    ST_OPT_OUT,
    ST_WITHDRAWN,
    ST_NO_CONSENT,
    ST_EXPIRED,
    ST_PENDING,
    ST_ALWAYS,
    ST_PAUSED,
) = range(9)
#: OneTrust purposes: slot name → (Purpose Name, Purpose Version).
CMP_PURPOSES = {
    "email": ("Email Marketing", "3"),
    "sms": ("SMS Marketing", "2"),
    "advertising": ("Advertising", "2"),
    "analytics": ("Analytics Cookies", "4"),
    "sale_sharing": ("Sale or Sharing of Personal Information", "1"),
    "necessary": ("Strictly Necessary Cookies", "1"),
    "all_marketing": ("All Marketing Communications", "1"),
}
#: OneTrust collection points (0 = empty). The last one holds an unquoted comma once
#: written (``\x1f`` is replaced by ``,`` in the CSV): a ragged row.
POINTS = [
    "",
    "Website Signup Form",
    "Web Checkout",
    "Mobile App",
    "In-Store POS",
    "Preference Center",
    "Customer Service",
    "Email Unsubscribe Sync",
    "SMS Keyword",
    "SMS STOP Sync",
    "Cookie Banner",
    "Do Not Sell or Share Link",
    "Web Checkout\x1f Mobile",
]
(
    P_NONE,
    P_SIGNUP,
    P_CHECKOUT,
    P_APP,
    P_POS,
    P_CENTER,
    P_SERVICE,
    P_UNSUB_SYNC,
    P_SMS_KEYWORD,
    P_STOP_SYNC,
    P_BANNER,
    P_DNS_LINK,
    P_RAGGED,
) = range(len(POINTS))


def _times(n: int) -> np.ndarray:
    return np.full(n, NA, dtype=np.int64)


@dataclass
class Crm:
    """Salesforce Contacts: one per person (slot 0), a second one for conflicts (slot 1)."""

    present: np.ndarray
    flag: np.ndarray
    """HasOptedOutOfEmail: CRM_FALSE, CRM_TRUE or CRM_WEIRD."""
    weird: np.ndarray
    """Which value of :data:`WEIRD_FLAGS` a CRM_WEIRD flag shows."""
    dnc: np.ndarray
    """DoNotCall: CRM_FALSE or CRM_TRUE."""
    time: np.ndarray
    """LastModifiedDate (stands for both flags)."""
    bad_time: np.ndarray
    """LastModifiedDate is written as an impossible date (the row is quarantined)."""
    dup: np.ndarray
    """A second contact (slot 1) with another customer number, same email and flags."""
    phone: np.ndarray
    """PHONE_NONE, PHONE_OWN or PHONE_STORE."""
    placeholder: np.ndarray
    """Index into PLACEHOLDER_EMAILS when the contact's email is a placeholder, else -1."""

    @classmethod
    def empty(cls, n: int) -> Crm:
        zeros = np.zeros(n, dtype=np.int8)
        return cls(
            present=np.zeros(n, bool),
            flag=zeros.copy(),
            weird=zeros.copy(),
            dnc=zeros.copy(),
            time=_times(n),
            bad_time=np.zeros(n, bool),
            dup=np.zeros(n, bool),
            phone=zeros.copy(),
            placeholder=np.full(n, -1, dtype=np.int8),
        )


@dataclass
class Mailchimp:
    """One audience member per person at most; the status picks the export file."""

    status: np.ndarray
    optin: np.ndarray
    """OPTIN_TIME (NA for imported members)."""
    changed: np.ndarray
    """LAST_CHANGED; also UNSUB_TIME / CLEAN_TIME for those files."""

    @classmethod
    def empty(cls, n: int) -> Mailchimp:
        return cls(np.zeros(n, dtype=np.int8), _times(n), _times(n))


@dataclass
class Twilio:
    """Up to :data:`TW_SLOTS` inbound messages per person (``kind[slot, person]``)."""

    kind: np.ndarray
    time: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Twilio:
        return cls(
            np.zeros((TW_SLOTS, n), dtype=np.int8), np.full((TW_SLOTS, n), NA, dtype=np.int64)
        )

    def clear(self, idx: np.ndarray) -> None:
        self.kind[:, idx] = TW_NONE
        self.time[:, idx] = NA


@dataclass
class CmpRow:
    """One OneTrust purpose row per person at most."""

    status: np.ndarray
    consent: np.ndarray
    withdraw: np.ndarray
    point: np.ndarray
    receipt: np.ndarray
    """Whether the row carries a Receipt Id (proof)."""

    @classmethod
    def empty(cls, n: int) -> CmpRow:
        zeros = np.zeros(n, dtype=np.int8)
        return cls(zeros.copy(), _times(n), _times(n), zeros.copy(), np.zeros(n, bool))

    @property
    def time(self) -> np.ndarray:
        """The row's time as the mapping reads it: Withdrawal Date, else Consent Date."""
        return np.where(self.withdraw != NA, self.withdraw, self.consent)

    def set(self, idx, status, consent=NA, withdraw=NA, point=P_NONE, receipt=True) -> None:
        self.status[idx] = status
        self.consent[idx] = consent
        self.withdraw[idx] = withdraw
        self.point[idx] = point
        self.receipt[idx] = receipt


@dataclass
class Audience:
    """Google Customer Match membership and which hashed identifiers the row carries."""

    member: np.ndarray
    with_email: np.ndarray
    with_phone: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Audience:
        return cls(np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool))


@dataclass
class Scenario:
    """Every generated person and what each system exports about them."""

    n: int
    seed: int
    as_of: int
    """The audit's "now", epoch seconds."""
    sla: int
    """``policy.latency_sla`` in seconds."""
    systems: tuple[str, ...]
    drift: DriftRates
    max_records_per_value: int
    ragged_rows: bool
    """Whether OneTrust rows may be ragged (CSV only)."""
    ids: Identities
    case: np.ndarray
    crm: Crm
    mc: Mailchimp
    tw: Twilio
    cmp: dict[str, CmpRow]
    ads: Audience
    help_only: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Spare phone numbers that only ever text HELP (ignored rows, no person)."""
    help_time: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def regular(self) -> np.ndarray:
        """Persons with a Salesforce contact of their own (customers)."""
        return ~np.isin(self.case, _NOT_REGULAR)

    def persons(self, *cases: Case) -> np.ndarray:
        return np.flatnonzero(np.isin(self.case, [int(c) for c in cases]))


_NOT_REGULAR = [Case.NEWSLETTER, Case.UNCONF_NEWSLETTER, Case.PLACEHOLDER, Case.ADS_ONLY]


class Clock:
    """Random times relative to the scenario's as-of, drawn from one generator."""

    def __init__(self, rng: np.random.Generator, as_of: int, sla: int, late_rate: float):
        self.rng = rng
        self.as_of = as_of
        self.sla = sla
        self.late_rate = late_rate
        self.start = as_of - 600 * DAY

    def between(self, low, high) -> np.ndarray:
        """Uniform integer seconds in ``[low, high]`` (arrays or numbers)."""
        low = np.asarray(low, dtype=np.int64)
        high = np.maximum(np.asarray(high, dtype=np.int64), low)
        return self.rng.integers(low, high + 1)

    def span(self, n: int, low: int, high: int) -> np.ndarray:
        return self.rng.integers(low, high + 1, size=n)

    def overdue(self, n: int) -> np.ndarray:
        """Denials older than the SLA by two hours or more."""
        return self.as_of - self.sla - self.span(n, 2 * HOUR, 300 * DAY)

    def in_flight(self, n: int) -> np.ndarray:
        """Denials inside the SLA, at least ten minutes and an hour from either end."""
        return self.as_of - self.span(n, 10 * 60, self.sla - HOUR)

    def sync_lag(self, n: int) -> np.ndarray:
        """A nightly-batch sync: minutes to a day, now and then longer than the SLA."""
        lag = self.span(n, 10 * 60, 26 * HOUR)
        late = self.rng.random(n) < self.late_rate
        return np.where(late, self.sla + self.span(n, 8 * HOUR, 128 * HOUR), lag)

    def before_now(self, times: np.ndarray) -> np.ndarray:
        """Keep synced times in the past (a sync never happens after the export)."""
        return np.minimum(times, self.as_of - 60)


def assign_cases(rng: np.random.Generator, n: int, drift: DriftRates, ragged: bool) -> np.ndarray:
    """One case per person, drawn from the per-person drift rates."""
    check_rates(drift)
    cases, probabilities = [], []
    for name, split in CASE_SPLIT.items():
        rate = getattr(drift, name)
        for case, weight in split:
            if case == Case.RAGGED_CMP and not ragged:
                case = Case.QUARANTINE_CRM
            cases.append(int(case))
            probabilities.append(rate * weight)
    cumulative = np.cumsum(probabilities)
    draw = rng.random(n)
    slot = np.searchsorted(cumulative, draw, side="right")
    chosen = np.array([*cases, int(Case.FILLER)], dtype=np.int8)
    return chosen[slot]


def new_scenario(
    n: int,
    seed: int,
    as_of: int,
    sla: int,
    systems: tuple[str, ...],
    drift: DriftRates,
    ragged_rows: bool,
    max_records_per_value: int = 25,
) -> tuple[Scenario, np.random.Generator]:
    """An empty scenario with identities and cases drawn (systems still hold nothing)."""
    rng = np.random.default_rng(seed)
    ids = make_identities(rng, n)
    case = assign_cases(rng, n, drift, ragged_rows)
    # A shared phone is planted only when the guard must catch it: with fewer
    # contacts than the guard's limit it would really link strangers.
    shared = case == Case.SHARED_PHONE
    if 0 < shared.sum() <= max_records_per_value:
        case[shared] = Case.FILLER
    scenario = Scenario(
        n=n,
        seed=seed,
        as_of=as_of,
        sla=sla,
        systems=systems,
        drift=drift,
        max_records_per_value=max_records_per_value,
        ragged_rows=ragged_rows,
        ids=ids,
        case=case,
        crm=Crm.empty(n),
        mc=Mailchimp.empty(n),
        tw=Twilio.empty(n),
        cmp={name: CmpRow.empty(n) for name in CMP_PURPOSES},
        ads=Audience.empty(n),
    )
    return scenario, rng
