"""Consistent people: every system agrees with the expected state on every key.

Fillers make up most of a scenario. Their rules keep them findings-free under
DESIGN §5/§6 with the generated policy (the CMP is the authority for email
and SMS marketing grants, an opt-out counts from anywhere):

* a grant anywhere is matched by a CMP grant (else the expected state would be
  unknown and the grant an ``unconfirmed_grant``);
* a denial anywhere reaches every system that holds the key, later than it
  (else a gap); no system re-grants after it (else a re-subscribe);
* CMP-only purposes (analytics, sale/sharing) and Salesforce-only DoNotCall
  cannot disagree with themselves.

Agreeing syncs can still be slow (``late_sync``): that shows in latency metrics
only, never as a finding.
"""

from __future__ import annotations

import numpy as np

from prefsync_audit.generate._arrays import NA
from prefsync_audit.generate.scenario import (
    CRM_FALSE,
    CRM_TRUE,
    DAY,
    MC_SUBSCRIBED,
    MC_UNSUBSCRIBED,
    P_BANNER,
    P_CENTER,
    P_CHECKOUT,
    P_DNS_LINK,
    P_NONE,
    P_SERVICE,
    P_SMS_KEYWORD,
    P_STOP_SYNC,
    P_UNSUB_SYNC,
    PHONE_NONE,
    PHONE_OWN,
    PHONE_STORE,
    ST_ACTIVE,
    ST_ALWAYS,
    ST_EXPIRED,
    ST_NO_CONSENT,
    ST_OPT_OUT,
    ST_PENDING,
    ST_WITHDRAWN,
    TW_HELP,
    TW_START,
    TW_STOP,
    Case,
    Clock,
    Scenario,
)

SIGNUP_POINTS = np.array([1, 2, 3, 4])  # signup form, checkout, app, POS


def _receipts(rng: np.random.Generator, n: int) -> np.ndarray:
    """About 1 row in 12 has no receipt id (older imports)."""
    return rng.random(n) >= 0.08


def _split(rng: np.random.Generator, idx: np.ndarray, weights: list[float]) -> list[np.ndarray]:
    """Partition ``idx`` at random into groups with the given shares."""
    draw = rng.random(len(idx))
    edges = np.cumsum(weights[:-1])
    group = np.searchsorted(edges, draw, side="right")
    return [idx[group == g] for g in range(len(weights))]


def fill(sc: Scenario, rng: np.random.Generator, clock: Clock) -> None:
    """Consistent data for every person, before planted cases override their key."""
    regular = np.flatnonzero(sc.regular)
    newsletter = sc.persons(Case.NEWSLETTER, Case.UNCONF_NEWSLETTER)
    _identities(sc, rng, regular)
    _email_track(sc, rng, clock, regular, newsletter)
    people = np.concatenate([regular, newsletter])
    people.sort()
    _sms_track(sc, rng, clock, regular)
    _advertising(sc, rng, clock, people)
    _cmp_only(sc, rng, clock, people)
    _placeholders(sc, rng, clock)
    _ads_only(sc, rng)
    _help_only(sc, rng, clock)


def _identities(sc: Scenario, rng: np.random.Generator, regular: np.ndarray) -> None:
    crm = sc.crm
    crm.present[regular] = True
    crm.phone[regular] = np.where(rng.random(len(regular)) < 0.85, PHONE_OWN, PHONE_NONE)
    crm.phone[sc.persons(Case.SHARED_PHONE)] = PHONE_STORE
    crm.dnc[regular] = np.where(rng.random(len(regular)) < 0.1, CRM_TRUE, CRM_FALSE)


def _email_track(sc, rng, clock: Clock, regular: np.ndarray, newsletter: np.ndarray) -> None:
    crm, mc, cmp = sc.crm, sc.mc, sc.cmp["email"]
    granted_r, denied_r, crm_only = _split(rng, regular, [0.74, 0.22, 0.04])
    granted_n, denied_n = _split(rng, newsletter, [0.8, 0.2])

    # Granted: a CMP grant, Mailchimp subscribed (most), Salesforce `false` (customers).
    granted = np.sort(np.concatenate([granted_r, granted_n]))
    signup = clock.span(len(granted), clock.start, clock.as_of - DAY)
    point = np.where(
        rng.random(len(granted)) < 0.03, P_NONE, rng.choice(SIGNUP_POINTS, len(granted))
    )
    cmp.set(
        granted,
        ST_ACTIVE,
        consent=signup + clock.span(len(granted), 5, 90),
        point=point,
        receipt=_receipts(rng, len(granted)),
    )
    in_mc = (rng.random(len(granted)) < 0.85) | np.isin(granted, newsletter)
    members = granted[in_mc]
    imported = rng.random(len(members)) < 0.2
    optin = signup[in_mc]
    confirm = optin + clock.span(len(members), 40, 2400)
    mc.status[members] = MC_SUBSCRIBED
    mc.optin[members] = np.where(imported, NA, optin)
    mc.changed[members] = np.where(
        imported, optin + clock.span(len(members), DAY, 3 * DAY), confirm
    )
    customers = np.isin(granted, granted_r)
    crm.flag[granted[customers]] = CRM_FALSE
    crm.time[granted[customers]] = clock.before_now(
        signup[customers] + clock.sync_lag(int(customers.sum()))
    )

    # Denied: the opt-out reached every system that holds the person.
    denied = np.sort(np.concatenate([denied_r, denied_n]))
    signup = clock.span(len(denied), clock.start, clock.as_of - 20 * DAY)
    opt_out = clock.between(signup + 3 * DAY, clock.as_of - DAY)
    is_newsletter = np.isin(denied, newsletter)
    variant = np.searchsorted([0.55, 0.92], rng.random(len(denied)), side="right")
    variant[is_newsletter & (variant == 2)] = 1
    consented = signup + clock.span(len(denied), 5, 90)
    receipts = _receipts(rng, len(denied))

    v = variant == 0  # unsubscribed in a Mailchimp footer, synced to the CMP
    mc.status[denied[v]] = MC_UNSUBSCRIBED
    mc.optin[denied[v]] = signup[v]
    mc.changed[denied[v]] = opt_out[v]
    cmp.set(
        denied[v],
        ST_OPT_OUT,
        consent=consented[v],
        withdraw=opt_out[v] + clock.span(int(v.sum()), 20 * 60, 6 * 3600),
        point=P_UNSUB_SYNC,
        receipt=receipts[v],
    )
    v = variant == 1  # opted out at the CMP, pushed to Mailchimp when the member exists
    status = np.where(rng.random(int(v.sum())) < 0.75, ST_OPT_OUT, ST_WITHDRAWN)
    cmp.set(
        denied[v],
        status,
        consent=consented[v],
        withdraw=opt_out[v],
        point=np.where(rng.random(int(v.sum())) < 0.7, P_CENTER, P_SERVICE),
        receipt=receipts[v],
    )
    member = v & ((rng.random(len(denied)) < 0.7) | is_newsletter)
    mc.status[denied[member]] = MC_UNSUBSCRIBED
    mc.optin[denied[member]] = signup[member]
    mc.changed[denied[member]] = opt_out[member] + clock.span(int(member.sum()), 5 * 60, 3 * 3600)
    v = variant == 2  # never consented (in store): NO_CONSENT, Salesforce `true`
    cmp.set(denied[v], ST_NO_CONSENT, consent=signup[v], point=P_NONE, receipt=receipts[v])
    opt_out[v] = signup[v]
    customers = ~is_newsletter
    crm.flag[denied[customers]] = CRM_TRUE
    crm.time[denied[customers]] = clock.before_now(
        opt_out[customers] + clock.sync_lag(int(customers.sum()))
    )

    # Salesforce only, opted out (an in-store customer who declined email).
    crm.flag[crm_only] = CRM_TRUE
    crm.time[crm_only] = clock.span(len(crm_only), clock.start, clock.as_of - DAY)


def _sms_track(sc: Scenario, rng, clock: Clock, regular: np.ndarray) -> None:
    eligible = regular[sc.crm.phone[regular] == PHONE_OWN]
    active = eligible[rng.random(len(eligible)) < 0.3]
    keyword_in, checkout_in, pending, keyword_out, center_out = _split(
        rng, active, [0.35, 0.15, 0.06, 0.3, 0.14]
    )
    tw, cmp = sc.tw, sc.cmp["sms"]

    start = clock.span(len(keyword_in), clock.start, clock.as_of - 5 * DAY)
    tw.kind[0, keyword_in] = TW_START
    tw.time[0, keyword_in] = start
    cmp.set(
        keyword_in,
        ST_ACTIVE,
        consent=start + clock.span(len(keyword_in), 30, 600),
        point=P_SMS_KEYWORD,
        receipt=_receipts(rng, len(keyword_in)),
    )
    cmp.set(
        checkout_in,
        ST_ACTIVE,
        consent=clock.span(len(checkout_in), clock.start, clock.as_of - DAY),
        point=P_CHECKOUT,
        receipt=_receipts(rng, len(checkout_in)),
    )
    # Double opt-in not confirmed yet: no choice either way (and no texts).
    cmp.set(
        pending,
        ST_PENDING,
        consent=clock.span(len(pending), clock.start, clock.as_of - DAY),
        point=P_CHECKOUT,
        receipt=_receipts(rng, len(pending)),
    )

    n = len(keyword_out)
    start = clock.span(n, clock.start, clock.as_of - 40 * DAY)
    stop = clock.between(start + 2 * DAY, clock.as_of - DAY)
    by_keyword = rng.random(n) < 0.6
    tw.kind[0, keyword_out[by_keyword]] = TW_START
    tw.time[0, keyword_out[by_keyword]] = start[by_keyword]
    tw.kind[1, keyword_out] = TW_STOP
    tw.time[1, keyword_out] = stop
    twice = rng.random(n) < 0.1  # said it twice
    tw.kind[2, keyword_out[twice]] = TW_STOP
    tw.time[2, keyword_out[twice]] = stop[twice] + clock.span(int(twice.sum()), 60, 1800)
    cmp.set(
        keyword_out,
        ST_OPT_OUT,
        consent=start + clock.span(n, 30, 600),
        withdraw=stop + clock.span(n, 5 * 60, 6 * 3600),
        point=P_STOP_SYNC,
        receipt=_receipts(rng, n),
    )
    n = len(center_out)
    consent = clock.span(n, clock.start, clock.as_of - 30 * DAY)
    cmp.set(
        center_out,
        ST_OPT_OUT,
        consent=consent,
        withdraw=clock.between(consent + DAY, clock.as_of - DAY),
        point=P_CENTER,
        receipt=_receipts(rng, n),
    )
    # HELP messages change nothing (ignored rows).
    helped = active[rng.random(len(active)) < 0.12]
    tw.kind[3, helped] = TW_HELP
    tw.time[3, helped] = clock.span(len(helped), clock.start, clock.as_of - DAY)


def _advertising(sc: Scenario, rng, clock: Clock, people: np.ndarray) -> None:
    both, cmp_only, opted_out, audience_only, _ = _split(rng, people, [0.22, 0.15, 0.1, 0.04, 0.49])
    cmp = sc.cmp["advertising"]
    granted = np.sort(np.concatenate([both, cmp_only]))
    cmp.set(
        granted,
        ST_ACTIVE,
        consent=clock.span(len(granted), clock.start, clock.as_of - DAY),
        point=P_BANNER,
        receipt=_receipts(rng, len(granted)),
    )
    consent = clock.span(len(opted_out), clock.start, clock.as_of - 31 * DAY)
    cmp.set(
        opted_out,
        ST_OPT_OUT,
        consent=consent,
        withdraw=consent + clock.span(len(opted_out), DAY, 30 * DAY),
        point=np.where(rng.random(len(opted_out)) < 0.5, P_BANNER, P_CENTER),
        receipt=_receipts(rng, len(opted_out)),
    )
    join_audience(sc, rng, np.sort(np.concatenate([both, audience_only])))


def join_audience(sc: Scenario, rng, idx: np.ndarray) -> None:
    """Upload ``idx`` to the audience with an email hash, a phone hash or both.

    A phone hash alone is used only for people whose own phone is in Salesforce:
    it is the only way the audience row can be linked to them.
    """
    phone_ok = sc.crm.present[idx] & (sc.crm.phone[idx] == PHONE_OWN) & ~sc.crm.bad_time[idx]
    with_email = (rng.random(len(idx)) < 0.9) | ~phone_ok
    with_phone = phone_ok & ((rng.random(len(idx)) < 0.6) | ~with_email)
    sc.ads.member[idx] = True
    sc.ads.with_email[idx] = with_email
    sc.ads.with_phone[idx] = with_phone


def _cmp_only(sc: Scenario, rng, clock: Clock, people: np.ndarray) -> None:
    """Purposes only the CMP holds: any choice is consistent."""
    active, opted_out, expired, _ = _split(rng, people, [0.6, 0.15, 0.05, 0.2])
    cmp = sc.cmp["analytics"]
    cmp.set(
        active,
        ST_ACTIVE,
        consent=clock.span(len(active), clock.start, clock.as_of - DAY),
        point=P_BANNER,
        receipt=_receipts(rng, len(active)),
    )
    cmp.set(
        opted_out,
        ST_OPT_OUT,
        withdraw=clock.span(len(opted_out), clock.start, clock.as_of - DAY),
        point=P_BANNER,
        receipt=_receipts(rng, len(opted_out)),
    )
    cmp.set(
        expired,
        ST_EXPIRED,
        consent=clock.span(len(expired), clock.start, clock.as_of - 200 * DAY),
        point=P_BANNER,
        receipt=_receipts(rng, len(expired)),
    )
    active, opted_out, never, _ = _split(rng, people, [0.5, 0.1, 0.03, 0.37])
    cmp = sc.cmp["sale_sharing"]
    cmp.set(
        active,
        ST_ACTIVE,
        consent=clock.span(len(active), clock.start, clock.as_of - DAY),
        point=P_BANNER,
        receipt=_receipts(rng, len(active)),
    )
    cmp.set(
        opted_out,
        ST_OPT_OUT,
        withdraw=clock.span(len(opted_out), clock.start, clock.as_of - DAY),
        point=P_DNS_LINK,
        receipt=_receipts(rng, len(opted_out)),
    )
    cmp.set(
        never,
        ST_NO_CONSENT,
        consent=clock.span(len(never), clock.start, clock.as_of - DAY),
        point=P_BANNER,
        receipt=_receipts(rng, len(never)),
    )
    # Strictly necessary cookies are not a choice: the mapping ignores these rows.
    necessary = people[rng.random(len(people)) < 0.35]
    sc.cmp["necessary"].set(
        necessary,
        ST_ALWAYS,
        consent=clock.span(len(necessary), clock.start, clock.as_of - DAY),
        point=P_BANNER,
        receipt=_receipts(rng, len(necessary)),
    )


def _placeholders(sc: Scenario, rng, clock: Clock) -> None:
    """In-store contacts without an email: a placeholder address, opted out of email."""
    idx = sc.persons(Case.PLACEHOLDER)
    crm = sc.crm
    crm.present[idx] = True
    crm.placeholder[idx] = rng.integers(0, 5, len(idx))
    crm.flag[idx] = CRM_TRUE
    crm.dnc[idx] = np.where(rng.random(len(idx)) < 0.3, CRM_TRUE, CRM_FALSE)
    crm.time[idx] = clock.span(len(idx), clock.start, clock.as_of - DAY)
    crm.phone[idx] = np.where(rng.random(len(idx)) < 0.5, PHONE_OWN, PHONE_NONE)


def _ads_only(sc: Scenario, rng) -> None:
    """Audience rows that match nobody (uploaded from an old loyalty list)."""
    idx = sc.persons(Case.ADS_ONLY)
    with_email = rng.random(len(idx)) < 0.9
    sc.ads.member[idx] = True
    sc.ads.with_email[idx] = with_email
    sc.ads.with_phone[idx] = ~with_email | (rng.random(len(idx)) < 0.5)


def _help_only(sc: Scenario, rng, clock: Clock) -> None:
    """Strangers texting HELP: ignored rows that belong to no person."""
    sc.help_only = sc.ids.spare_phone
    sc.help_time = clock.span(len(sc.help_only), clock.start, clock.as_of - DAY)
