"""Trade events in canonical form: which instrument, who traded it, at what size and price, and its lifecycle.

Everything is drawn with numpy for a whole chunk at once; one entry per row of the file.
Amendments and cancellations follow their trade's earlier versions in the same chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from orchestrator.generator.markets import (
    ALTERNATIVE_VENUES,
    BOND_VENUES,
    EXCHANGE_HOURS,
    OFF_EXCHANGE,
    OTC_HOURS,
    PRODUCTS,
    REGIONS,
)
from orchestrator.generator.seeding import rng_for
from orchestrator.generator.snapshots import trader_regions
from orchestrator.generator.universe import Universe

AMENDED_SHARE = 0.05
SECOND_AMENDMENT_SHARE = 0.15
CANCELLED_SHARE = 0.02
LATE_SHARE = 0.01
MAX_LATE_BUSINESS_DAYS = 3
SETTLEMENT_BUSINESS_DAYS = 2
PRIMARY_VENUE_SHARE = 0.8
INTRADAY_VOLATILITY = 0.004
AMENDMENT_PRICE_MOVE = 0.002
COUNTERPARTY_CONCENTRATION = 1.1
HOUR_MICROSECONDS = 3_600_000_000

NEW, AMEND, CANCEL = 0, 1, 2
BUY, SELL = 0, 1


@dataclass(frozen=True)
class TradeEvents:
    """One chunk of trade events, one entry per file row, as indexes into the universe."""

    trade_number: np.ndarray
    version: np.ndarray
    event: np.ndarray
    trade_date: np.ndarray
    executed_at: np.ndarray
    settlement_date: np.ndarray
    instrument: np.ndarray
    side: np.ndarray
    quantity: np.ndarray
    price: np.ndarray
    trader: np.ndarray
    book: np.ndarray
    counterparty: np.ndarray
    venue: np.ndarray

    def __len__(self) -> int:
        return len(self.version)


def _grouped(members: list[list[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lists flattened for vectorised picking: (flat members, start of each list, length of each list)."""
    lengths = np.array([len(group) for group in members], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    flat = np.array([member for group in members for member in group], dtype=np.int64)
    return flat, starts, lengths


def _pick(
    grouped: tuple[np.ndarray, np.ndarray, np.ndarray], groups: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One uniformly chosen member of each row's group."""
    flat, starts, lengths = grouped
    offsets = (rng.random(len(groups)) * lengths[groups]).astype(np.int64)
    picked: np.ndarray = flat[starts[groups] + offsets]
    return picked


@dataclass(frozen=True)
class TradingDay:
    """What a source can trade on a business date: instruments, desks' traders and books, venues, counterparties."""

    business_date: date
    instruments: np.ndarray
    instrument_weights: np.ndarray
    instrument_product: np.ndarray
    instrument_region: np.ndarray
    reference_price: np.ndarray
    primary_venue: np.ndarray
    desk_traders: tuple[np.ndarray, np.ndarray, np.ndarray]
    desk_books: tuple[np.ndarray, np.ndarray, np.ndarray]
    desk_venues: tuple[np.ndarray, np.ndarray, np.ndarray]
    counterparty_pools: tuple[tuple[np.ndarray, np.ndarray], ...]


def _venue_choices(product_index: int, region: str, mics: tuple[str, ...]) -> list[int]:
    """MIC indexes a desk executes on when not on the instrument's primary exchange."""
    product = PRODUCTS[product_index]
    if product.exchange_traded:
        wanted: tuple[str, ...] = ALTERNATIVE_VENUES[region]
    elif product.asset_class == "IRS":
        wanted = (OFF_EXCHANGE,)
    else:
        wanted = BOND_VENUES
    found = [mics.index(mic) for mic in wanted if mic in mics]
    if not found and OFF_EXCHANGE in mics:
        found = [mics.index(OFF_EXCHANGE)]
    return found or [0]


def trading_day(universe: Universe, asset_classes: tuple[str, ...], business_date: date) -> TradingDay:
    """The trading context of one source on one date."""
    instruments = universe.instruments
    asset = np.asarray(instruments.column("asset_class").to_pylist())
    eligible = np.flatnonzero(np.isin(asset, asset_classes))
    weights = instruments.column("_popularity").to_numpy()[eligible]
    mics = universe.codes.mics
    primary = np.array(
        [mics.index(mic) if mic in mics else -1 for mic in instruments.column("primary_mic").to_pylist()]
    )

    desks = [(product, region) for product in range(len(PRODUCTS)) for region in range(len(REGIONS))]
    active = universe.traders.column("is_active").to_numpy(zero_copy_only=False)
    trader_product = universe.traders.column("_product").to_numpy()
    regions_today = trader_regions(universe, business_date)
    desk_traders = []
    for product, region in desks:
        on_desk = np.flatnonzero(active & (trader_product == product) & (regions_today == region))
        same_product = np.flatnonzero(active & (trader_product == product))
        # A desk emptied by moves borrows the product's traders elsewhere rather than stop trading.
        staffed = on_desk if len(on_desk) else same_product if len(same_product) else np.flatnonzero(active)
        desk_traders.append([int(trader) for trader in staffed])
    book_product = universe.books.column("_product").to_numpy()
    book_region = universe.books.column("_region").to_numpy()
    desk_books = [[int(book) for book in np.flatnonzero((book_product == p) & (book_region == r))] for p, r in desks]
    desk_venues = [_venue_choices(p, REGIONS[r], mics) for p, r in desks]

    counterparty_types = np.asarray(universe.counterparties.column("counterparty_type").to_pylist())
    # A few counterparties do most of the business: activity falls with a rank fixed per seed.
    ranks = rng_for(universe.seed, "counterparty-activity").permutation(len(counterparty_types))
    activity = 1.0 / (1.0 + ranks) ** COUNTERPARTY_CONCENTRATION
    pools = []
    for traded in PRODUCTS:
        members = np.flatnonzero(np.isin(counterparty_types, traded.counterparty_types))
        members = members if len(members) else np.arange(len(counterparty_types))
        pools.append((members, activity[members] / activity[members].sum()))

    return TradingDay(
        business_date=business_date,
        instruments=eligible,
        instrument_weights=weights / weights.sum(),
        instrument_product=instruments.column("_product").to_numpy(),
        instrument_region=instruments.column("_region").to_numpy(),
        reference_price=instruments.column("_price").to_numpy(),
        primary_venue=primary,
        desk_traders=_grouped(desk_traders),
        desk_books=_grouped(desk_books),
        desk_venues=_grouped(desk_venues),
        counterparty_pools=tuple(pools),
    )


@dataclass(frozen=True)
class Lifecycle:
    """Which events a source can express and how prices must be bounded."""

    has_amendments: bool = True
    has_cancellations: bool = True
    price_bounds: tuple[float, float] = (0.0, np.inf)


def _lifecycle_rows(
    rng: np.random.Generator, rows: int, lifecycle: Lifecycle
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(trade of each row, version of each row, event of each row) for exactly `rows` rows."""
    amended = rng.random(rows) < (AMENDED_SHARE if lifecycle.has_amendments else 0.0)
    amendments = amended * np.where(rng.random(rows) < SECOND_AMENDMENT_SHARE, 2, 1)
    cancelled = rng.random(rows) < (CANCELLED_SHARE if lifecycle.has_cancellations else 0.0)
    events_per_trade = 1 + amendments + cancelled
    trade_of_row = np.repeat(np.arange(rows), events_per_trade)[:rows]
    first_row = np.concatenate([[0], np.cumsum(events_per_trade)[:-1]])
    version = np.arange(rows) - first_row[trade_of_row] + 1
    is_cancel = cancelled[trade_of_row] & (version == events_per_trade[trade_of_row])
    event = np.where(version == 1, NEW, np.where(is_cancel, CANCEL, AMEND))
    return trade_of_row, version, event


def _execution_times(
    rng: np.random.Generator, trade_dates: np.ndarray, region: np.ndarray, product: np.ndarray
) -> np.ndarray:
    """Microsecond timestamps inside each trade's trading hours, busiest near open and close."""
    listed = np.array([p.exchange_traded for p in PRODUCTS])[product]
    exchange = np.array([EXCHANGE_HOURS[name] for name in REGIONS])[region]
    otc = np.array([OTC_HOURS[name] for name in REGIONS])[region]
    start, end = np.where(listed[:, None], exchange, otc).T
    hours = start + rng.beta(0.7, 0.7, size=len(region)) * (end - start)
    offset = np.minimum((hours * HOUR_MICROSECONDS).astype(np.int64), 24 * HOUR_MICROSECONDS - 1)
    executed: np.ndarray = trade_dates.astype("datetime64[us]") + offset.astype("timedelta64[us]")
    return executed


def _amended(
    ticks: np.ndarray, lots: np.ndarray, amend_rows: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(price in ticks, size in lots) after amendments, each moving the price or the size by at least one unit."""
    size = len(ticks)
    reprice = amend_rows & (rng.random(size) < 0.5)
    moved = np.round(ticks * rng.normal(0.0, AMENDMENT_PRICE_MOVE, size=size))
    moved = np.where(moved == 0, np.where(rng.random(size) < 0.5, -1, 1), moved)
    resized = np.round(lots * rng.uniform(-0.5, 0.5, size=size))
    resized = np.where(resized == 0, 1, resized)
    new_ticks = np.where(reprice, np.maximum(ticks + moved, 1), ticks)
    new_lots = np.where(amend_rows & ~reprice, np.maximum(lots + resized, 1), lots)
    return new_ticks, new_lots


def sample_events(
    day: TradingDay, rng: np.random.Generator, rows: int, first_trade: int, lifecycle: Lifecycle
) -> TradeEvents:
    """Exactly `rows` events of trades numbered from `first_trade`, every version of a trade together."""
    trade_of_row, version, event = _lifecycle_rows(rng, rows, lifecycle)
    trades = int(trade_of_row[-1]) + 1 if rows else 0

    instrument = day.instruments[rng.choice(len(day.instruments), size=trades, p=day.instrument_weights)]
    product = day.instrument_product[instrument]
    region = day.instrument_region[instrument]
    desk = product * len(REGIONS) + region
    trader = _pick(day.desk_traders, desk, rng)
    book = _pick(day.desk_books, desk, rng)
    counterparty = np.zeros(trades, dtype=np.int64)
    for index, (members, weights) in enumerate(day.counterparty_pools):
        of_product = product == index
        counterparty[of_product] = members[rng.choice(len(members), size=int(of_product.sum()), p=weights)]
    listed = np.array([p.exchange_traded for p in PRODUCTS])[product]
    primary = day.primary_venue[instrument]
    on_primary = listed & (primary >= 0) & (rng.random(trades) < PRIMARY_VENUE_SHARE)
    venue = np.where(on_primary, primary, _pick(day.desk_venues, desk, rng))

    business_day = np.datetime64(day.business_date, "D")
    late = rng.random(trades) < LATE_SHARE
    lateness = np.where(late, rng.integers(1, MAX_LATE_BUSINESS_DAYS + 1, size=trades), 0)
    trade_date = np.where(late, np.busday_offset(business_day, -lateness, roll="backward"), business_day)
    settlement_date = np.busday_offset(trade_date, SETTLEMENT_BUSINESS_DAYS, roll="forward")
    executed_at = _execution_times(rng, trade_date, region, product)

    lot = np.array([p.lot for p in PRODUCTS])[product]
    median_lots = np.array([p.median_lots for p in PRODUCTS])[product]
    lots = np.clip(np.round(median_lots * rng.lognormal(0.0, 1.0, size=trades)), 1, 50 * median_lots)
    ticks_per_unit = 10.0 ** np.array([p.price_decimals for p in PRODUCTS])[product]
    price = day.reference_price[instrument] * np.exp(rng.normal(0.0, INTRADAY_VOLATILITY, size=trades))
    ticks = np.maximum(np.round(price * ticks_per_unit), 1)

    # Spread per-trade values onto rows; amendments correct price or size, a cancel repeats the last version.
    row_ticks, row_lots = _amended(ticks[trade_of_row], lots[trade_of_row], event == AMEND, rng)
    cancel_rows = np.flatnonzero(event == CANCEL)
    row_ticks[cancel_rows] = row_ticks[cancel_rows - 1]
    row_lots[cancel_rows] = row_lots[cancel_rows - 1]
    row_scale = ticks_per_unit[trade_of_row]
    low, high = lifecycle.price_bounds
    price_rows = np.clip(row_ticks, np.ceil(low * row_scale), np.floor(high * row_scale)) / row_scale
    quantity_rows = (row_lots * lot[trade_of_row]).astype(np.int64)

    return TradeEvents(
        trade_number=first_trade + trade_of_row,
        version=version,
        event=event,
        trade_date=trade_date[trade_of_row],
        executed_at=executed_at[trade_of_row],
        settlement_date=settlement_date[trade_of_row],
        instrument=instrument[trade_of_row],
        side=rng.integers(0, 2, size=trades)[trade_of_row],
        quantity=quantity_rows,
        price=price_rows,
        trader=trader[trade_of_row],
        book=book[trade_of_row],
        counterparty=counterparty[trade_of_row],
        venue=venue[trade_of_row],
    )
