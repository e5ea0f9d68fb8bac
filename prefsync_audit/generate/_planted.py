"""Planted cases: each overrides one preference key of its persons.

The comment over each function says which finding(s) DESIGN §5/§6 expects and
why. The truth itself is not written here: :mod:`truth` derives it from what
the exports hold, and the tests check that each case yields what it intends.
Times are drawn so that no comparison the policy makes is a tie, and nothing
sits within ten minutes of the SLA boundary.
"""

from __future__ import annotations

import numpy as np

from prefsync_audit.generate._arrays import NA
from prefsync_audit.generate._fillers import SIGNUP_POINTS, join_audience
from prefsync_audit.generate.scenario import (
    CRM_FALSE,
    CRM_TRUE,
    CRM_WEIRD,
    DAY,
    HOUR,
    MC_CLEANED,
    MC_NONE,
    MC_SUBSCRIBED,
    MC_UNSUBSCRIBED,
    P_BANNER,
    P_CENTER,
    P_CHECKOUT,
    P_NONE,
    P_RAGGED,
    P_SERVICE,
    P_SMS_KEYWORD,
    P_UNSUB_SYNC,
    PHONE_OWN,
    ST_ACTIVE,
    ST_NONE,
    ST_OPT_OUT,
    ST_PAUSED,
    ST_WITHDRAWN,
    TW_START,
    TW_STOP,
    WEIRD_FLAGS,
    Case,
    Clock,
    Scenario,
)

CMP, EMAIL, CRM = 0, 1, 2


def plant(sc: Scenario, rng: np.random.Generator, clock: Clock) -> None:
    for case, pending in ((Case.GAP_EMAIL, False), (Case.PENDING_EMAIL, True)):
        _email_gap(sc, rng, clock, sc.persons(case), pending)
    for case, pending in ((Case.GAP_GLOBAL, False), (Case.PENDING_GLOBAL, True)):
        _global_gap(sc, rng, clock, sc.persons(case), pending)
    for case, pending in ((Case.GAP_SMS, False), (Case.PENDING_SMS, True)):
        _sms_gap(sc, rng, clock, sc.persons(case), pending)
    for case, pending in ((Case.GAP_SMS_CMP, False), (Case.PENDING_SMS_CMP, True)):
        _sms_gap_at_cmp(sc, rng, clock, sc.persons(case), pending)
    for case, pending in ((Case.GAP_ADS, False), (Case.PENDING_ADS, True)):
        _ads_gap(sc, rng, clock, sc.persons(case), pending)
    _email_resubscribe(sc, rng, clock, sc.persons(Case.RESUB_EMAIL))
    _sms_resubscribe(sc, rng, clock, sc.persons(Case.RESUB_SMS))
    _email_over_suppression(sc, rng, clock, sc.persons(Case.OVER_EMAIL))
    _sms_over_suppression(sc, rng, clock, sc.persons(Case.OVER_SMS))
    _unconfirmed(sc, rng, clock)
    _cleaned(sc, rng, clock, sc.persons(Case.CLEANED))
    _identity_and_values(sc, rng, clock)
    _untimed_denial(sc, rng, clock, sc.persons(Case.UNTIMED_DENIAL))


# --------------------------------------------------------------------------- helpers


def _denial_times(clock: Clock, n: int, pending: bool) -> np.ndarray:
    return clock.in_flight(n) if pending else clock.overdue(n)


def _after(clock: Clock, denied: np.ndarray) -> np.ndarray:
    """A sync that honoured the denial: a minute to 36 h later, never after as-of."""
    room = np.minimum(36 * HOUR, (clock.as_of - 60 - denied) // 2)
    return clock.between(denied + 60, denied + np.maximum(room, 60))


def _before(clock: Clock, denied: np.ndarray, longest: int = 200 * DAY) -> np.ndarray:
    """A grant older than the denial by an hour to ``longest``."""
    return denied - clock.span(len(denied), HOUR, longest)


def _mc(sc: Scenario, clock: Clock, idx, status, changed) -> None:
    changed = np.asarray(changed)
    sc.mc.status[idx] = status
    sc.mc.changed[idx] = changed
    sc.mc.optin[idx] = changed - clock.span(np.size(idx), DAY, 90 * DAY)


def _crm(sc: Scenario, idx, flag, time) -> None:
    sc.crm.flag[idx] = flag
    sc.crm.time[idx] = time


def _own_phone(sc: Scenario, idx: np.ndarray) -> None:
    """SMS cases need a phone Salesforce links to the person (Twilio has nothing else)."""
    sc.crm.phone[idx] = PHONE_OWN
    sc.tw.clear(idx)


def _three_way(rng, n: int, weights: list[float]) -> np.ndarray:
    return rng.choice(len(weights), size=n, p=np.array(weights) / sum(weights))


# --------------------------------------------------------------------------- email


def _email_gap(sc, rng, clock: Clock, idx: np.ndarray, pending: bool) -> None:
    """An opt-out at one system (the *origin*: CMP, Mailchimp or Salesforce) that some
    others never received. Expected denied (a denial counts from anywhere), deciding
    change = the origin's denial; each *lagging* system still shows an older grant →
    ``suppression_gap`` (``pending_sync`` inside the SLA). Synced systems agree."""
    n = len(idx)
    denied = _denial_times(clock, n, pending)
    origin = _three_way(rng, n, [0.5, 0.3, 0.2])
    lagging = (rng.random((3, n)) < 0.5) & (np.arange(3)[:, None] != origin)
    nobody = ~lagging.any(axis=0)
    other = (origin + 1 + rng.integers(0, 2, n)) % 3
    lagging[other[nobody], np.flatnonzero(nobody)] = True
    in_mc = (origin == EMAIL) | lagging[EMAIL] | (rng.random(n) < 0.8)

    cmp = sc.cmp["email"]
    at = origin == CMP
    cmp.set(
        idx[at],
        np.where(rng.random(int(at.sum())) < 0.7, ST_OPT_OUT, ST_WITHDRAWN),
        consent=denied[at] - clock.span(int(at.sum()), DAY, 300 * DAY),
        withdraw=denied[at],
        point=np.where(rng.random(int(at.sum())) < 0.7, P_CENTER, P_SERVICE),
    )
    at = lagging[CMP]
    cmp.set(
        idx[at],
        ST_ACTIVE,
        consent=_before(clock, denied[at]),
        point=rng.choice(SIGNUP_POINTS, int(at.sum())),
    )
    at = (origin != CMP) & ~lagging[CMP]
    cmp.set(
        idx[at],
        ST_OPT_OUT,
        consent=denied[at] - clock.span(int(at.sum()), DAY, 300 * DAY),
        withdraw=_after(clock, denied[at]),
        point=P_UNSUB_SYNC,
    )

    sc.mc.status[idx] = MC_NONE
    at = origin == EMAIL
    _mc(sc, clock, idx[at], MC_UNSUBSCRIBED, denied[at])
    at = lagging[EMAIL]
    _mc(sc, clock, idx[at], MC_SUBSCRIBED, _before(clock, denied[at]))
    at = in_mc & (origin != EMAIL) & ~lagging[EMAIL]
    _mc(sc, clock, idx[at], MC_UNSUBSCRIBED, _after(clock, denied[at]))

    at = origin == CRM
    _crm(sc, idx[at], CRM_TRUE, denied[at])
    at = lagging[CRM]
    _crm(sc, idx[at], CRM_FALSE, _before(clock, denied[at]))
    at = (origin != CRM) & ~lagging[CRM]
    _crm(sc, idx[at], CRM_TRUE, _after(clock, denied[at]))
    # Opted out twice: an old Salesforce opt-out, a re-consent at the CMP (with evidence,
    # so it counts), then the new opt-out. The deciding change is the *new* opt-out
    # (§5.4: after the last counting grant), so the CMP's re-consent is older than it
    # → a gap at the CMP, not a re-subscribe.
    twice = (origin == EMAIL) & lagging[CMP] & ~lagging[CRM] & (rng.random(n) < 0.4)
    regranted = cmp.consent[idx[twice]]
    _crm(sc, idx[twice], CRM_TRUE, regranted - clock.span(int(twice.sum()), DAY, 100 * DAY))


def _global_gap(sc, rng, clock: Clock, idx: np.ndarray, pending: bool) -> None:
    """A global "All Marketing Communications" opt-out at the CMP (``marketing/*/*``).
    It denies every narrower marketing key the person has (DESIGN §5.1): email, SMS and
    phone calls. Lagging Mailchimp / Salesforce (email *and* DoNotCall) and a Twilio
    START older than it → gaps on each; the CMP's own narrower email/SMS grants are
    older than its denial, so the CMP agrees."""
    n = len(idx)
    denied = _denial_times(clock, n, pending)
    sc.cmp["all_marketing"].set(
        idx,
        ST_OPT_OUT,
        consent=denied - clock.span(n, 30 * DAY, 300 * DAY),
        withdraw=denied,
        point=P_CENTER,
    )
    sc.cmp["email"].set(
        idx, ST_ACTIVE, consent=_before(clock, denied), point=rng.choice(SIGNUP_POINTS, n)
    )
    which = rng.integers(0, 3, n)  # 0: Mailchimp lags, 1: Salesforce lags, 2: both
    lag_mc, lag_crm = which != 1, which != 0
    _mc(sc, clock, idx[lag_mc], MC_SUBSCRIBED, _before(clock, denied[lag_mc]))
    _mc(sc, clock, idx[~lag_mc], MC_UNSUBSCRIBED, _after(clock, denied[~lag_mc]))
    _crm(sc, idx[lag_crm], CRM_FALSE, _before(clock, denied[lag_crm]))
    sc.crm.dnc[idx[lag_crm]] = CRM_FALSE
    _crm(sc, idx[~lag_crm], CRM_TRUE, _after(clock, denied[~lag_crm]))
    sc.crm.dnc[idx[~lag_crm]] = CRM_TRUE

    texts = sc.crm.phone[idx] == PHONE_OWN
    sc.tw.clear(idx)
    sc.cmp["sms"].set(idx, ST_NONE)
    start = _before(clock, denied[texts], 150 * DAY) - DAY
    sc.tw.kind[0, idx[texts]] = TW_START
    sc.tw.time[0, idx[texts]] = start
    sc.cmp["sms"].set(
        idx[texts],
        ST_ACTIVE,
        consent=start + clock.span(int(texts.sum()), 30, 600),
        point=P_SMS_KEYWORD,
    )


def _email_resubscribe(sc, rng, clock: Clock, idx: np.ndarray) -> None:
    """After a counting opt-out, one system (the *re-subscriber*) shows a newer grant
    that does not count: Mailchimp or Salesforce (not the authority), or the CMP itself
    without capture source or proof → ``unverified_resubscribe`` on that system."""
    n = len(idx)
    denied = clock.span(n, clock.start + 100 * DAY, clock.as_of - 2 * DAY)
    regrant = clock.between(denied + HOUR, clock.as_of - HOUR)
    again = _three_way(rng, n, [0.2, 0.45, 0.35])  # CMP, EMAIL, CRM
    first = rng.random(n) < 0.7
    origin = np.select(
        [again == EMAIL, again == CRM],
        [np.where(first, CMP, CRM), np.where(first, CMP, EMAIL)],
        default=np.where(rng.random(n) < 0.6, EMAIL, CRM),
    )
    in_mc = (again == EMAIL) | (origin == EMAIL) | (rng.random(n) < 0.7)

    cmp = sc.cmp["email"]
    at = origin == CMP
    cmp.set(
        idx[at],
        ST_OPT_OUT,
        consent=denied[at] - clock.span(int(at.sum()), DAY, 200 * DAY),
        withdraw=denied[at],
        point=P_CENTER,
    )
    at = again == CMP
    cmp.set(idx[at], ST_ACTIVE, consent=regrant[at], point=P_NONE, receipt=False)
    at = (origin != CMP) & (again != CMP)
    cmp.set(
        idx[at],
        ST_OPT_OUT,
        consent=denied[at] - clock.span(int(at.sum()), DAY, 200 * DAY),
        withdraw=_after(clock, denied[at]),
        point=P_UNSUB_SYNC,
    )
    sc.mc.status[idx] = MC_NONE
    at = origin == EMAIL
    _mc(sc, clock, idx[at], MC_UNSUBSCRIBED, denied[at])
    at = again == EMAIL
    _mc(sc, clock, idx[at], MC_SUBSCRIBED, regrant[at])
    at = in_mc & (origin != EMAIL) & (again != EMAIL)
    _mc(sc, clock, idx[at], MC_UNSUBSCRIBED, _after(clock, denied[at]))
    at = origin == CRM
    _crm(sc, idx[at], CRM_TRUE, denied[at])
    at = again == CRM
    _crm(sc, idx[at], CRM_FALSE, regrant[at])
    at = (origin != CRM) & (again != CRM)
    _crm(sc, idx[at], CRM_TRUE, _after(clock, denied[at]))


def _email_over_suppression(sc, rng, clock: Clock, idx: np.ndarray) -> None:
    """An old denial in Mailchimp and/or Salesforce, then a re-consent at the CMP with a
    capture source and a receipt: the grant counts (it has evidence), expected granted,
    and each system still denying → ``over_suppression``."""
    n = len(idx)
    granted = clock.span(n, clock.start + 200 * DAY, clock.as_of - HOUR)
    which = _three_way(rng, n, [0.4, 0.4, 0.2])  # 0: Mailchimp, 1: Salesforce, 2: both
    deny_mc, deny_crm = which != 1, which != 0
    sc.cmp["email"].set(
        idx, ST_ACTIVE, consent=granted, point=rng.choice(SIGNUP_POINTS, n), receipt=True
    )
    denied_mc = _before(clock, granted[deny_mc], 150 * DAY)
    _mc(sc, clock, idx[deny_mc], MC_UNSUBSCRIBED, denied_mc)
    late = clock.before_now(granted[~deny_mc] + clock.span(int((~deny_mc).sum()), 60, 3600))
    _mc(sc, clock, idx[~deny_mc], MC_SUBSCRIBED, late)
    _crm(sc, idx[deny_crm], CRM_TRUE, _before(clock, granted[deny_crm], 150 * DAY))
    late = clock.before_now(granted[~deny_crm] + clock.sync_lag(int((~deny_crm).sum())))
    _crm(sc, idx[~deny_crm], CRM_FALSE, late)
    # A third of them: the old denial was a global "All Marketing" opt-out at the CMP,
    # and the re-consent is the narrower email grant. A narrower grant newer than a
    # broader denial counts (only a *broader* grant never overrides a narrower denial,
    # §5.1). The global opt-out also covers texts and calls: those keys stay denied,
    # so Salesforce's DoNotCall agrees and texts are left out.
    broad = idx[rng.random(n) < 0.35]
    first_denial = np.minimum(sc.mc.changed[broad], sc.crm.time[broad])
    first_denial = np.where(
        sc.mc.status[broad] == MC_UNSUBSCRIBED, first_denial, sc.crm.time[broad]
    )
    denial = np.minimum(first_denial, sc.cmp["email"].consent[broad] - DAY) - HOUR
    sc.cmp["all_marketing"].set(
        broad, ST_OPT_OUT, consent=denial - 30 * DAY, withdraw=denial, point=P_CENTER
    )
    sc.crm.dnc[broad] = CRM_TRUE
    sc.tw.clear(broad)
    sc.cmp["sms"].set(broad, ST_NONE)


def _cleaned(sc, rng, clock: Clock, idx: np.ndarray) -> None:
    """Mailchimp "cleaned" (hard bounce) is mapped to ``ignore``: the member is a record
    without a state, and ``email.must_hold: [marketing/email]`` → ``missing_preference``.
    The CMP and Salesforce agree with each other (granted or denied)."""
    n = len(idx)
    when = clock.span(n, clock.start + 30 * DAY, clock.as_of - 2 * DAY)
    granted = rng.random(n) < 0.7
    cmp = sc.cmp["email"]
    cmp.set(idx[granted], ST_ACTIVE, consent=when[granted], point=P_CHECKOUT)
    cmp.set(
        idx[~granted],
        ST_OPT_OUT,
        consent=when[~granted] - 30 * DAY,
        withdraw=when[~granted],
        point=P_CENTER,
    )
    _mc(sc, clock, idx, MC_CLEANED, when + clock.span(n, DAY, 20 * DAY))
    _crm(
        sc,
        idx,
        np.where(granted, CRM_FALSE, CRM_TRUE),
        clock.before_now(when + clock.sync_lag(n)),
    )


def _untimed_denial(sc, rng, clock: Clock, idx: np.ndarray) -> None:
    """A OneTrust opt-out exported without any date, a later-dated Mailchimp grant.
    DESIGN §5.3: an untimed observation is older than every timed one, so the untimed
    denial is the deciding change and the timed Mailchimp grant is *newer* than it;
    Mailchimp is not the authority → ``unverified_resubscribe`` (not a gap)."""
    n = len(idx)
    sc.cmp["email"].set(idx, ST_OPT_OUT, point=P_CENTER)
    granted = clock.span(n, clock.start, clock.as_of - DAY)
    _mc(sc, clock, idx, MC_SUBSCRIBED, granted)
    _crm(sc, idx, CRM_TRUE, clock.span(n, clock.start, clock.as_of - DAY))


# --------------------------------------------------------------------------- sms


def _sms_gap(sc, rng, clock: Clock, idx: np.ndarray, pending: bool) -> None:
    """SMS opt-out at the preference center; Twilio only saw an older START →
    ``suppression_gap`` / ``pending_sync`` on sms."""
    n = len(idx)
    _own_phone(sc, idx)
    denied = _denial_times(clock, n, pending)
    start = _before(clock, denied)
    sc.tw.kind[0, idx] = TW_START
    sc.tw.time[0, idx] = start
    sc.cmp["sms"].set(
        idx, ST_OPT_OUT, consent=start + clock.span(n, 30, 600), withdraw=denied, point=P_CENTER
    )


def _sms_gap_at_cmp(sc, rng, clock: Clock, idx: np.ndarray, pending: bool) -> None:
    """Texted STOP; the CMP still has its older keyword opt-in (a STOP counts from any
    system) → ``suppression_gap`` / ``pending_sync`` on the CMP."""
    n = len(idx)
    _own_phone(sc, idx)
    denied = _denial_times(clock, n, pending)
    granted = _before(clock, denied)
    start = granted - clock.span(n, 60, 600)
    sc.tw.kind[0, idx] = TW_START
    sc.tw.time[0, idx] = start
    sc.tw.kind[1, idx] = TW_STOP
    sc.tw.time[1, idx] = denied
    sc.cmp["sms"].set(idx, ST_ACTIVE, consent=granted, point=P_SMS_KEYWORD)


def _sms_resubscribe(sc, rng, clock: Clock, idx: np.ndarray) -> None:
    """After a counting SMS opt-out: a Twilio START (not the authority), or a CMP SMS
    grant without capture source or proof → ``unverified_resubscribe``."""
    n = len(idx)
    _own_phone(sc, idx)
    denied = clock.span(n, clock.start + 100 * DAY, clock.as_of - 2 * DAY)
    regrant = clock.between(denied + HOUR, clock.as_of - HOUR)
    at_twilio = rng.random(n) < 0.6
    i = idx[at_twilio]
    sc.cmp["sms"].set(
        i,
        ST_OPT_OUT,
        consent=denied[at_twilio] - clock.span(len(i), DAY, 100 * DAY),
        withdraw=denied[at_twilio],
        point=P_CENTER,
    )
    sc.tw.kind[0, i] = TW_START
    sc.tw.time[0, i] = regrant[at_twilio]
    i = idx[~at_twilio]
    sc.tw.kind[0, i] = TW_START
    sc.tw.time[0, i] = denied[~at_twilio] - clock.span(len(i), DAY, 100 * DAY)
    sc.tw.kind[1, i] = TW_STOP
    sc.tw.time[1, i] = denied[~at_twilio]
    sc.cmp["sms"].set(i, ST_ACTIVE, consent=regrant[~at_twilio], point=P_NONE, receipt=False)


def _sms_over_suppression(sc, rng, clock: Clock, idx: np.ndarray) -> None:
    """START then STOP at Twilio, later an SMS re-consent at checkout with evidence →
    expected granted, Twilio's latest word is STOP → ``over_suppression`` on sms."""
    n = len(idx)
    _own_phone(sc, idx)
    granted = clock.span(n, clock.start + 200 * DAY, clock.as_of - HOUR)
    start = granted - clock.span(n, 10 * DAY, 150 * DAY)
    stop = clock.between(start + DAY, granted - HOUR)
    sc.tw.kind[0, idx] = TW_START
    sc.tw.time[0, idx] = start
    sc.tw.kind[1, idx] = TW_STOP
    sc.tw.time[1, idx] = stop
    sc.cmp["sms"].set(idx, ST_ACTIVE, consent=granted, point=P_CHECKOUT, receipt=True)


# --------------------------------------------------------------------------- the rest


def _ads_gap(sc, rng, clock: Clock, idx: np.ndarray, pending: bool) -> None:
    """Opted out of advertising at the CMP, still in the Customer Match audience. The
    audience has no time (older than every timed observation): not a re-subscribe →
    ``suppression_gap`` / ``pending_sync`` on ads."""
    n = len(idx)
    denied = _denial_times(clock, n, pending)
    sc.cmp["advertising"].set(
        idx,
        ST_OPT_OUT,
        consent=denied - clock.span(n, DAY, 300 * DAY),
        withdraw=denied,
        point=np.where(rng.random(n) < 0.5, P_BANNER, P_CENTER),
    )
    join_audience(sc, rng, idx)


def _unconfirmed(sc, rng, clock: Clock) -> None:
    """Grants and no counting observation at all (no CMP row for the key, no denial):
    expected unknown → ``unconfirmed_grant`` on each granting system."""
    idx = sc.persons(Case.UNCONF_EMAIL)  # Salesforce `false`, often imported to Mailchimp
    n = len(idx)
    sc.cmp["email"].set(idx, ST_NONE)
    _crm(sc, idx, CRM_FALSE, clock.span(n, clock.start, clock.as_of - DAY))
    sc.mc.status[idx] = MC_NONE
    member = idx[rng.random(n) < 0.6]
    _mc(sc, clock, member, MC_SUBSCRIBED, clock.span(len(member), clock.start, clock.as_of - DAY))
    sc.mc.optin[member] = NA
    idx = sc.persons(Case.UNCONF_NEWSLETTER)  # imported into Mailchimp only
    sc.cmp["email"].set(idx, ST_NONE)
    _mc(sc, clock, idx, MC_SUBSCRIBED, clock.span(len(idx), clock.start, clock.as_of - DAY))
    sc.mc.optin[idx] = NA
    idx = sc.persons(Case.UNCONF_SMS)  # a START the CMP never recorded
    _own_phone(sc, idx)
    sc.cmp["sms"].set(idx, ST_NONE)
    sc.tw.kind[0, idx] = TW_START
    sc.tw.time[0, idx] = clock.span(len(idx), clock.start, clock.as_of - DAY)


def _identity_and_values(sc, rng, clock: Clock) -> None:
    """Identity conflicts, unmapped values and quarantined rows: no drift of their own."""
    crm = sc.crm
    crm.dup[sc.persons(Case.CONFLICT)] = True
    idx = sc.persons(Case.UNMAPPED_CRM)
    crm.flag[idx] = CRM_WEIRD
    crm.weird[idx] = rng.integers(0, len(WEIRD_FLAGS), len(idx))
    idx = sc.persons(Case.UNMAPPED_CMP)
    sc.cmp["analytics"].set(
        idx, ST_PAUSED, consent=clock.span(len(idx), clock.start, clock.as_of - DAY), point=P_BANNER
    )
    idx = sc.persons(Case.RAGGED_CMP)
    sc.cmp["analytics"].set(
        idx, ST_ACTIVE, consent=clock.span(len(idx), clock.start, clock.as_of - DAY), point=P_RAGGED
    )
    # A quarantined Salesforce row takes the customer number and the phone with it:
    # keep the person reachable by email (a CMP row), and nothing that only the phone
    # would link (texts, a phone-only audience row).
    idx = sc.persons(Case.QUARANTINE_CRM)
    crm.bad_time[idx] = True
    sc.tw.clear(idx)
    no_cmp = idx[sc.cmp["email"].status[idx] == ST_NONE]
    sc.cmp["email"].set(no_cmp, ST_ACTIVE, consent=crm.time[no_cmp], point=P_CHECKOUT)
    crm.flag[no_cmp] = CRM_FALSE
    members = idx[sc.ads.member[idx]]
    sc.ads.with_email[members] = True
    sc.ads.with_phone[members] = False
