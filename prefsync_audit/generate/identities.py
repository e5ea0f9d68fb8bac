"""Who the generated people are: names, emails, phones, customer numbers.

Every identifier is unique by construction (an affine permutation of the
person's index), so two generated people never share a value by accident —
including after Google's Gmail rule removes dots and ``+suffix``: a Gmail local
part is ``first.last.CODE``, and ``CODE`` (fixed width, unique) stays last.

Each system then spells the same value its own way (case, stray spaces, phone
punctuation); the normalizers of the audit must undo that.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prefsync_audit.generate._arrays import (
    affine_permutation,
    base36,
    by_style,
    digits,
    join,
    permute,
    pick,
    put_digits,
    text_array,
)


def _words(text: str) -> list[str]:
    """A word list written as text (reads better than hundreds of quoted items)."""
    return text.split()


FIRST_NAMES = _words(
    "Ada Aiden Alma Amir Anika Arjun Beatriz Bruno Camille Caleb Chloe Dario Dana Elif Emeka "
    "Esther Farah Felix Freya Gabriel Hana Hector Ingrid Isaac Jae Jonas Jose Kai Keira Lars "
    "Leila Liam Lena Marco Mariam Mateo Nadia Nils Nora Omar Paloma Quinn Ravi Rosa Ruth "
    "Sakura Selin Soren Talia Theo Uma Viktor Wanda Xavier Yara Yosef Zoe Zane Imani Matteo "
    "Priya Hugo Noor Clara Oskar Greta Nikolai Lucia Samuel Fatima Dmitri Wendell Ottilie "
    "Bastian Rosalind Ezra Sunniva Tobias Jordan Samira Maya Bertrand Yusuf Harriet Tomasz "
    "Delphine Kwame Ines Rafael Meilin Amara Ivy Lukas Mira Owen Petra Rhea Silas Tessa Umar "
    "Vera Wes Xenia Yuki Zara"
)
LAST_NAMES = _words(
    "Abbott Alvarez Baptiste Barros Becker Bergstrom Calloway Chen Costa Dahl Delacroix "
    "Dempsey Eriksen Esposito Falk Fontaine Garrido Gallagher Haddon Holm Ibarra Iversen "
    "Jaramillo Jensen Kaplan Kowalczyk Lachance Lindgren Mbeki Moreno Nakamura Novak Oduya "
    "Olsen Pacheco Petrov Quintero Rahman Rasmussen Rocha Salazar Sorensen Takahashi Thorne "
    "Ueda Vance Varga Weiss Whitaker Xu Yilmaz Young Zamora Zeller Mwangi Okafor Oyelaran "
    "Brennan Achterberg Lindqvist Carvalho Okonkwo Fairweather Pemberton Castellanos "
    "Thornbury Ashdown Halvorsen Solberg Ferreira Marchetti Whitcombe Zielinski Abernathy "
    "Nakashima Strand Natarajan Brandt Haddad Granger Kruger Achebe Whitlock Lund Renner Pike "
    "Morgan Reyes Schmidt Tanaka Nguyen Kowalski"
)
#: Email domains and their weights. ``.example`` is reserved for documentation;
#: Gmail is real, which is the point: Customer Match applies its dot/plus rule there.
DOMAINS = [
    ("gmail.com", 0.22),
    ("googlemail.com", 0.01),
    ("inbox.example", 0.2),
    ("mailhub.example", 0.17),
    ("postbox.example", 0.15),
    ("letterbox.example", 0.13),
    ("parcelpost.example", 0.12),
]
GMAIL_DOMAINS = (0, 1)
PLUS_TAGS = ["+shop", "+news", "+nw", "+deals"]

#: US area codes valid for libphonenumber with any exchange 200–999 (checked in tests).
AREA_CODES = _words(
    "201 202 203 205 206 207 208 209 210 212 213 214 215 216 217 218 219 224 225 228 229 231 "
    "234 239 240 248 251 252 253 254 256 260 262 267 269 270 276 281 301 302 303 304 305 307 "
    "308 309 310 312 313 314 315 316 317 318 319 320 321 323 325 330 334 336 337 339 347 351 "
    "352 360 361 386 401 402 404 405 406 407 408 409 410 412 413 414 415 417 419 423 424 425 "
    "432 434 435 440 443 469 478 479 480 484 501 502 503 504 505 507 508 509 510 512 513 515 "
    "516 517 518 520 530 540 541 551 559 561 562 563 567 570 571 573 574 575 580 585 586 601 "
    "602 603 605 606 607 608 609 610 612 614 615 616 617 618 619 620 623 626 630 631 636 641 "
    "646 650 651 660 661 662 678 682 701 702 703 704 706 707 708 712 713 714 715 716 717 718 "
    "719 720 724 727 731 732 734 740 754 757 760 763 765 770 772 773 774 775 781 785 786 801"
)
_EXCHANGES = 799  # 200–999 without 555 (kept for fictional numbers like the store's)
#: The store's own number, typed into contacts that gave none (a shared placeholder
#: the audit must catch by its records-per-value guard).
STORE_PHONE = 2125550100
#: Placeholder emails store associates type when a customer gives none. The first is
#: listed in the generated config; the others only match the built-in patterns.
PLACEHOLDER_EMAILS = [
    "noemail@northwind.example",
    "NoEmail@northwind.example",
    " NOEMAIL@NORTHWIND.EXAMPLE",
    "none@none.com",
    "test@test.com",
]
LISTED_PLACEHOLDER = "noemail@northwind.example"


@dataclass
class Identities:
    """The identifiers of every generated person (index = person)."""

    first: np.ndarray
    """Index into :data:`FIRST_NAMES`."""
    last: np.ndarray
    """Index into :data:`LAST_NAMES`."""
    email: pa.Array
    """The address as the person would write it, lowercase (the normalized form)."""
    google_email: pa.Array
    """The address after Google's Gmail rule (what Customer Match hashes)."""
    phone: np.ndarray
    """10-digit US national number (``+1`` prefix for E.164)."""
    spare_phone: np.ndarray
    """Numbers nobody holds (strangers who text HELP)."""
    customer: np.ndarray
    """Customer number (``NW-########``)."""
    conflict_customer: np.ndarray
    """A second customer number, used only by identity-conflict duplicates."""


def make_identities(rng: np.random.Generator, n: int) -> Identities:
    index = np.arange(n, dtype=np.int64)
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    weights = np.array([w for _, w in DOMAINS])
    domain = rng.choice(len(DOMAINS), size=n, p=weights / weights.sum())
    code_value = permute(index, 36**6, affine_permutation(rng, 36**6))
    # Number persons in the order of their address (first, last, code decide it: names
    # are lowercase letters and "." sorts before any letter), so exports sorted by
    # email (OneTrust) are in person order.
    first_rank = np.argsort(np.argsort([f.lower() for f in FIRST_NAMES], kind="stable"))
    last_rank = np.argsort(np.argsort([name.lower() for name in LAST_NAMES], kind="stable"))
    by_address = np.lexsort((code_value, last_rank[last], first_rank[first]))
    first, last, domain = first[by_address], last[by_address], domain[by_address]
    code_value = code_value[by_address]
    code = base36(code_value, 6)
    first_l = pick([f.lower() for f in FIRST_NAMES], first)
    last_l = pick([name.lower() for name in LAST_NAMES], last)
    gmail = np.isin(domain, GMAIL_DOMAINS)
    plus = np.where(gmail & (rng.random(n) < 0.15), rng.integers(0, len(PLUS_TAGS), n), -1)
    plus_text = pc.fill_null(pick(PLUS_TAGS, plus), "")
    domain_text = pick([d for d, _ in DOMAINS], domain)
    email = join(first_l, ".", last_l, ".", code, plus_text, "@", domain_text)
    google = pc.if_else(pa.array(gmail), join(first_l, last_l, code, "@", domain_text), email)
    space = len(AREA_CODES) * _EXCHANGES * 10_000
    spare = max(2, n // 500)
    slot = permute(np.arange(n + spare, dtype=np.int64), space, affine_permutation(rng, space))
    area = np.array([int(a) for a in AREA_CODES], dtype=np.int64)[slot // (_EXCHANGES * 10_000)]
    exchange = slot // 10_000 % _EXCHANGES
    exchange = 200 + exchange + (exchange >= 355)
    phone = area * 10_000_000 + exchange * 10_000 + slot % 10_000
    ids = permute(np.arange(2 * n, dtype=np.int64), 90_000_000, affine_permutation(rng, 90_000_000))
    return Identities(
        first=first,
        last=last,
        email=email,
        google_email=google,
        phone=phone[:n],
        spare_phone=phone[n:],
        customer=10_000_000 + ids[:n],
        conflict_customer=10_000_000 + ids[n:],
    )


# --------------------------------------------------------------------------- spellings


def email_spellings(email: pa.Array, style: np.ndarray) -> pa.Array:
    """0 as typed, 1 Title.Case, 2 UPPER, 3 leading space, 4 trailing spaces."""
    variants = [
        lambda v: v,
        pc.utf8_title,
        pc.utf8_upper,
        lambda v: join(" ", v),
        lambda v: join(v, "  "),
    ]
    return by_style(style, lambda k, rows: variants[k](email.take(pa.array(rows))))


def e164(phone: np.ndarray) -> pa.Array:
    return digits(phone, 10, b"+1")


def phone_spellings(phone: np.ndarray, style: np.ndarray) -> pa.Array:
    """0 ``+12125550147``, 1 ``(212) 555-0147``, 2 ``212.555.0147``, 3 ``212-555-0147``,
    4 ``+1 212 555 0147``, 5 ``2125550147``."""
    templates = [
        b"+1AAAEEELLLL",
        b"(AAA) EEE-LLLL",
        b"AAA.EEE.LLLL",
        b"AAA-EEE-LLLL",
        b"+1 AAA EEE LLLL",
        b"AAAEEELLLL",
    ]

    def layout(k: int, rows: np.ndarray) -> pa.Array:
        # Fill the A/E/L placeholders of the template with the number's digits.
        template, number = templates[k], phone[rows]
        chars = np.empty((len(rows), len(template)), dtype=np.uint8)
        chars[:] = np.frombuffer(template, dtype=np.uint8)
        parts = (
            (b"AAA", number // 10_000_000, 3),
            (b"EEE", number // 10_000 % 1000, 3),
            (b"LLLL", number % 10_000, 4),
        )
        for part, value, width in parts:
            put_digits(chars, template.index(part), value, width)
        return text_array(chars)

    return by_style(style, layout)


def sha256_hex(values: pa.Array) -> pa.Array:
    """SHA-256 hex of each value (null stays null). The one per-value Python loop of
    the generator: no vectorized SHA-256 exists in numpy or Arrow."""
    out = [
        None if v is None else hashlib.sha256(v.encode("utf-8")).hexdigest()
        for v in values.to_pylist()
    ]
    return pa.array(out, pa.string())


def hashed_pool(pool: list[str]) -> list[str]:
    """SHA-256 of each lowercased pool entry (names are hashed once per distinct name)."""
    return [hashlib.sha256(v.lower().encode("utf-8")).hexdigest() for v in pool]
