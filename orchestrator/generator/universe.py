"""The deterministic world generated files talk about: traders, books, counterparties and instruments.

It depends on the seed and the code lists only, never on the business date; `snapshots` applies
the small day-to-day changes a reference master shows.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np
import pyarrow as pa

from orchestrator.generator import names
from orchestrator.generator.codes import CodeLists
from orchestrator.generator.identifiers import make_cusip, make_isin, make_lei
from orchestrator.generator.markets import (
    COUNTERPARTY_COUNTRIES,
    COUNTERPARTY_TYPES,
    LEI_ISSUER_PREFIXES,
    MARKETS,
    PRODUCTS,
    REGIONS,
    Market,
    Product,
)
from orchestrator.generator.seeding import rng_for

TRADER_COUNT = 200
BOOKS_PER_DESK = 4
BOOK_PURPOSES = ("Flow", "Market Making", "Client Facilitation", "Hedging")
COUNTERPARTY_COUNT = 400

_ALNUM = string.digits + string.ascii_uppercase


@dataclass(frozen=True)
class Universe:
    """Every trader, book, counterparty and instrument a generated file may reference."""

    # Columns starting with `_` are generation helpers, not reference attributes.

    seed: int
    codes: CodeLists
    traders: pa.Table
    books: pa.Table
    counterparties: pa.Table
    instruments: pa.Table
    bank_entity_leis: tuple[str, ...]


def _weighted_choice(rng: np.random.Generator, options: list[tuple[str, float]], size: int) -> list[str]:
    keys = [key for key, _ in options]
    weights = np.array([weight for _, weight in options], dtype=float)
    return [keys[i] for i in rng.choice(len(keys), size=size, p=weights / weights.sum())]


def _random_text(rng: np.random.Generator, length: int, alphabet: str = _ALNUM) -> str:
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=length))


def _unique(make: Callable[[np.random.Generator], str], rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct values from a maker called with the generator, in the order first made."""
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(make(rng), None)
    return list(seen)


def _make_lei(rng: np.random.Generator) -> str:
    prefix = LEI_ISSUER_PREFIXES[int(rng.integers(0, len(LEI_ISSUER_PREFIXES)))]
    return make_lei(prefix + "00" + _random_text(rng, 12))


def _usable_markets(product: Product, codes: CodeLists) -> list[tuple[str, float]]:
    """The product's markets whose currency (and, for listed products, an exchange) is in the code lists."""
    currencies, mics = set(codes.currencies), set(codes.mics)
    usable = [
        (key, weight)
        for key, weight in product.markets
        if MARKETS[key].currency in currencies
        and (not product.exchange_traded or any(mic in mics for mic in MARKETS[key].exchanges))
    ]
    if usable:
        return usable
    # The seeds lack every market this product knows: issue in the first listed currency instead.
    return [("CODES", 1.0)]


def _market(key: str, codes: CodeLists) -> Market:
    return MARKETS[key] if key != "CODES" else Market("XS", codes.currencies[0], "EMEA", codes.mics[:1])


def _national_number(rng: np.random.Generator, market: Market, product: Product) -> tuple[str, str | None]:
    """The 9-character national number of a new instrument, and its CUSIP when it has one."""
    digits = string.digits
    if market.country == "US":
        issuer = "91282C" if product.asset_class == "GOVT_BOND" else _random_text(rng, 6)
        issue = "10" if product.exchange_traded else _random_text(rng, 2)
        cusip = make_cusip(issuer[:6] + issue)
        return cusip, cusip
    if market.country == "EZ":
        return _random_text(rng, 9), None
    if market.country == "XS":
        return "1" + _random_text(rng, 8, digits), None
    if market.country == "JP":
        return "3" + _random_text(rng, 7, digits) + "0", None
    if market.country == "IE":
        return "00B" + _random_text(rng, 6), None
    return "00" + _random_text(rng, 7, digits), None


def _instrument_names(rng: np.random.Generator, market: Market, product: Product, maturity: date) -> tuple[str, str]:
    """An instrument's name, and the name it takes if it is ever renamed (equities only change)."""
    stem = names.FIRM_STEMS[int(rng.integers(0, len(names.FIRM_STEMS)))]
    industry = names.INDUSTRIES[int(rng.integers(0, len(names.INDUSTRIES)))]
    legal = names.COUNTRY_LEGAL_FORMS.get(market.country, "PLC")
    coupon = f"{int(rng.integers(2, 48)) * 0.125:.3f}%"
    match product.asset_class:
        case "EQUITY":
            return f"{stem} {industry} {legal}", f"{stem} {industry} Group {legal}"
        case "ETF":
            provider = names.ETF_PROVIDERS[int(rng.integers(0, len(names.ETF_PROVIDERS)))]
            index = names.ETF_INDICES[int(rng.integers(0, len(names.ETF_INDICES)))]
            name = f"{provider} {index} {'ETF' if market.country == 'US' else 'UCITS ETF'}"
        case "GOVT_BOND":
            issuer = names.SOVEREIGN_ISSUERS.get(market.country, "Supranational")
            name = f"{issuer} {coupon} {maturity:%d/%m/%Y}"
        case "CORP_BOND":
            name = f"{stem} {industry} {coupon} {maturity:%m/%Y}"
        case _:
            floating = {"USD": "SOFR", "EUR": "ESTR", "GBP": "SONIA", "JPY": "TONA", "CHF": "SARON"}
            tenor = int(rng.choice([2, 3, 5, 7, 10, 15, 20, 30]))
            name = f"IRS {market.currency} {tenor}Y Fixed vs {floating.get(market.currency, 'OIS')}"
    return name, name


def _reference_price(rng: np.random.Generator, market: Market, product: Product) -> float:
    price = product.median_price * float(np.exp(rng.normal(0.0, product.price_spread)))
    if product.asset_class == "EQUITY" and market.currency == "JPY":
        price *= 100  # Japanese shares trade in the thousands of yen.
    return round(max(price, 10.0**-product.price_decimals), product.price_decimals)


def _build_instruments(seed: int, codes: CodeLists) -> pa.Table:
    rows: list[dict[str, object]] = []
    seen_isins: set[str] = set()
    for product_index, product in enumerate(PRODUCTS):
        rng = rng_for(seed, "instruments", product.asset_class)
        market_keys = _weighted_choice(rng, _usable_markets(product, codes), product.instruments)
        popularity_rank = rng.permutation(product.instruments)
        for position, key in enumerate(market_keys):
            market = _market(key, codes)
            nsin, cusip = _national_number(rng, market, product)
            isin = make_isin(market.country, nsin)
            if isin in seen_isins:
                continue
            seen_isins.add(isin)
            maturity = date(2026, 1, 15) + timedelta(days=int(rng.integers(365, 30 * 365)))
            name, renamed = _instrument_names(rng, market, product, maturity)
            listings = [mic for mic in market.exchanges if mic in codes.mics]
            rows.append(
                {
                    "isin": isin,
                    "cusip": cusip,
                    "instrument_name": name,
                    "asset_class": product.asset_class,
                    "currency": market.currency,
                    "primary_mic": listings[int(rng.integers(0, len(listings)))] if listings else None,
                    "_renamed_name": renamed,
                    "_product": product_index,
                    "_region": REGIONS.index(market.region),
                    "_price": _reference_price(rng, market, product),
                    "_popularity": 1.0 / (1.0 + float(popularity_rank[position])) ** 1.07,
                    "_phase": int(rng.integers(0, 1 << 16)),
                }
            )
    return pa.Table.from_pylist(sorted(rows, key=lambda row: str(row["isin"])))


def _build_counterparties(seed: int) -> pa.Table:
    rng = rng_for(seed, "counterparties")
    kinds = _weighted_choice(rng, list(COUNTERPARTY_TYPES), COUNTERPARTY_COUNT)
    countries = _weighted_choice(rng, list(COUNTERPARTY_COUNTRIES), COUNTERPARTY_COUNT)
    leis = _unique(_make_lei, rng, COUNTERPARTY_COUNT)
    words = {
        "BANK": names.BANK_WORDS,
        "BROKER": names.BROKER_WORDS,
        "FUND": names.FUND_WORDS,
        "CORPORATE": names.INDUSTRIES,
        "CCP": names.CCP_WORDS,
        "SOVEREIGN": ("Sovereign Investment Authority", "Debt Management Agency"),
    }
    rows = []
    used_stems: set[str] = set()
    for lei, kind, country in zip(leis, kinds, countries, strict=True):
        word = words[kind][int(rng.integers(0, len(words[kind])))]
        stem = f"{rng.choice(names.FIRM_STEMS)} {word}"
        while stem in used_stems:
            stem = f"{rng.choice(names.FIRM_STEMS)} {rng.choice(names.FIRM_STEMS)} {word}"
        used_stems.add(stem)
        rows.append(
            {
                "counterparty_lei": lei,
                "_name_stem": stem,
                "_legal_form": "LP" if kind == "FUND" else names.COUNTRY_LEGAL_FORMS.get(country, "Ltd"),
                "country_code": country,
                "counterparty_type": kind,
                "_phase": int(rng.integers(0, 1 << 16)),
            }
        )
    return pa.Table.from_pylist(sorted(rows, key=lambda row: str(row["counterparty_lei"])))


def _desks() -> list[tuple[int, int]]:
    """Every (product, region) pair; each is one desk."""
    return [(product, region) for product in range(len(PRODUCTS)) for region in range(len(REGIONS))]


def desk_name(product: int, region: int) -> str:
    """The desk label used by both traders and books."""
    return f"{PRODUCTS[product].desk} {REGIONS[region]}"


def _build_books(seed: int, bank_entity_leis: tuple[str, ...]) -> pa.Table:
    rng = rng_for(seed, "books")
    desks = _desks()
    numbers = rng.choice(np.arange(1000, 10000), size=len(desks) * BOOKS_PER_DESK, replace=False)
    rows = []
    for position, number in enumerate(numbers):
        product, region = desks[position // BOOKS_PER_DESK]
        purpose = BOOK_PURPOSES[position % BOOKS_PER_DESK]
        rows.append(
            {
                "book_id": f"BK{int(number):04d}",
                "_base_name": f"{desk_name(product, region)} {purpose}",
                "_short_name": f"{PRODUCTS[product].desk_short_name} {REGIONS[region]} {purpose}",
                "desk": desk_name(product, region),
                "legal_entity_lei": bank_entity_leis[region],
                "region": REGIONS[region],
                "_product": product,
                "_region": region,
                "_phase": int(rng.integers(0, 1 << 16)),
            }
        )
    return pa.Table.from_pylist(sorted(rows, key=lambda row: str(row["book_id"])))


def _build_traders(seed: int) -> pa.Table:
    rng = rng_for(seed, "traders")
    desks = _desks()
    shares = np.array([PRODUCTS[product].trader_share * (0.45, 0.4, 0.15)[region] for product, region in desks])
    # Two traders on every desk first, so every desk can book trades; the rest by desk size.
    assigned = [index for index in range(len(desks)) for _ in range(2)]
    assigned += list(rng.choice(len(desks), size=TRADER_COUNT - len(assigned), p=shares / shares.sum()))
    numbers = rng.choice(np.arange(10000, 100000), size=TRADER_COUNT, replace=False)
    rows = []
    emails: set[str] = set()
    for number, desk_index in zip(numbers, assigned, strict=True):
        product, region = desks[int(desk_index)]
        first = names.FIRST_NAMES[int(rng.integers(0, len(names.FIRST_NAMES)))]
        last = names.LAST_NAMES[int(rng.integers(0, len(names.LAST_NAMES)))]
        email = f"{first}.{last}".lower()
        suffix = 1
        while f"{email}@bank.example" in emails:
            suffix += 1
            email = f"{first}.{last}{suffix}".lower()
        emails.add(f"{email}@bank.example")
        is_mover = rng.random() < 0.3
        rows.append(
            {
                "trader_id": f"T{int(number):05d}",
                "trader_name": f"{first} {last}",
                "email": f"{email}@bank.example" if rng.random() > 0.03 else None,
                "is_active": bool(rng.random() > 0.04),
                "_product": product,
                "_home_region": region,
                "_away_region": (region + int(rng.integers(1, len(REGIONS)))) % len(REGIONS) if is_mover else region,
                "_phase": int(rng.integers(0, 1 << 16)),
            }
        )
    return pa.Table.from_pylist(sorted(rows, key=lambda row: str(row["trader_id"])))


@lru_cache(maxsize=8)
def build_universe(seed: int, codes: CodeLists) -> Universe:
    """The universe for a seed; the same seed and code lists always give the same universe."""
    rng = rng_for(seed, "bank-entities")
    bank_entity_leis = tuple(_unique(_make_lei, rng, len(REGIONS)))
    return Universe(
        seed=seed,
        codes=codes,
        traders=_build_traders(seed),
        books=_build_books(seed, bank_entity_leis),
        counterparties=_build_counterparties(seed),
        instruments=_build_instruments(seed, codes),
        bank_entity_leis=bank_entity_leis,
    )
