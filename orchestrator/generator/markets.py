"""Static market knowledge: where instruments list, what each product trades like, which firms take the other side."""

from __future__ import annotations

from dataclasses import dataclass

REGIONS = ("EMEA", "AMER", "APAC")


def _shares(text: str) -> tuple[tuple[str, float], ...]:
    """`"US:35 GB:12"` as (("US", 35.0), ("GB", 12.0))."""
    return tuple((key, float(share)) for key, share in (pair.split(":") for pair in text.split()))


@dataclass(frozen=True)
class Market:
    """A place instruments are issued: ISIN country prefix, currency, region and listing exchanges."""

    country: str
    currency: str
    region: str
    exchanges: tuple[str, ...] = ()


MARKETS = {
    "US": Market("US", "USD", "AMER", ("XNYS", "XNAS")),
    "CA": Market("CA", "CAD", "AMER", ("XTSE",)),
    "GB": Market("GB", "GBP", "EMEA", ("XLON",)),
    "DE": Market("DE", "EUR", "EMEA", ("XETR",)),
    "FR": Market("FR", "EUR", "EMEA", ("XPAR",)),
    "NL": Market("NL", "EUR", "EMEA", ("XAMS",)),
    "IT": Market("IT", "EUR", "EMEA", ("XMIL",)),
    "ES": Market("ES", "EUR", "EMEA", ("XMAD",)),
    "CH": Market("CH", "CHF", "EMEA", ("XSWX",)),
    "SE": Market("SE", "SEK", "EMEA", ("XSTO",)),
    # Irish-domiciled ETFs list in London and Frankfurt.
    "IE": Market("IE", "EUR", "EMEA", ("XLON", "XETR")),
    "JP": Market("JP", "JPY", "APAC", ("XTKS",)),
    "AU": Market("AU", "AUD", "APAC", ("XASX",)),
    "HK": Market("HK", "HKD", "APAC", ("XHKG",)),
    # Eurobonds carry the XS prefix whatever their currency.
    "XS-EUR": Market("XS", "EUR", "EMEA"),
    "XS-USD": Market("XS", "USD", "EMEA"),
    "XS-GBP": Market("XS", "GBP", "EMEA"),
    # OTC derivatives get EZ ISINs from the ANNA Derivatives Service Bureau.
    "EZ-USD": Market("EZ", "USD", "AMER"),
    "EZ-EUR": Market("EZ", "EUR", "EMEA"),
    "EZ-GBP": Market("EZ", "GBP", "EMEA"),
    "EZ-JPY": Market("EZ", "JPY", "APAC"),
    "EZ-CHF": Market("EZ", "CHF", "EMEA"),
}

# Multilateral trading facilities that also execute listed equities, by region.
ALTERNATIVE_VENUES = {"AMER": ("BATS", "EDGX", "IEXG"), "EMEA": ("TRQX", "BATE", "CHIX", "AQXE"), "APAC": ("CHIJ",)}
BOND_VENUES = ("BMTF", "TREU", "XOFF")
OFF_EXCHANGE = "XOFF"


@dataclass(frozen=True)
class Product:
    """An asset class as a desk trades it: price and size distributions, hours, usual counterparties."""

    asset_class: str
    desk: str
    desk_short_name: str
    instruments: int
    markets: tuple[tuple[str, float], ...]
    median_price: float
    price_spread: float
    price_decimals: int
    lot: int
    median_lots: float
    exchange_traded: bool
    counterparty_types: tuple[str, ...]
    trader_share: float


PRODUCTS = (
    Product(
        asset_class="EQUITY",
        desk="Cash Equities",
        desk_short_name="EQ Cash",
        instruments=900,
        markets=_shares("US:35 GB:12 DE:8 FR:8 JP:10 CH:5 NL:4 IT:3 ES:3 CA:4 AU:4 SE:2 HK:2"),
        median_price=60.0,
        price_spread=0.9,
        price_decimals=2,
        lot=1,
        median_lots=400,
        exchange_traded=True,
        counterparty_types=("BROKER", "BANK", "FUND", "CCP"),
        trader_share=0.3,
    ),
    Product(
        asset_class="ETF",
        desk="ETF Trading",
        desk_short_name="ETF",
        instruments=250,
        markets=_shares("US:50 IE:40 DE:10"),
        median_price=80.0,
        price_spread=0.5,
        price_decimals=2,
        lot=1,
        median_lots=1000,
        exchange_traded=True,
        counterparty_types=("BROKER", "BANK", "FUND"),
        trader_share=0.15,
    ),
    Product(
        asset_class="GOVT_BOND",
        desk="Government Bonds",
        desk_short_name="Govies",
        instruments=250,
        markets=_shares("US:30 GB:15 DE:15 FR:10 IT:10 JP:10 ES:5 NL:5"),
        median_price=99.0,
        price_spread=0.06,
        price_decimals=3,
        lot=100_000,
        median_lots=20,
        exchange_traded=False,
        counterparty_types=("BANK", "FUND", "SOVEREIGN", "BROKER"),
        trader_share=0.2,
    ),
    Product(
        asset_class="CORP_BOND",
        desk="Credit Trading",
        desk_short_name="Credit",
        instruments=450,
        markets=_shares("US:45 XS-EUR:25 XS-USD:15 XS-GBP:5 GB:5 DE:5"),
        median_price=98.0,
        price_spread=0.07,
        price_decimals=3,
        lot=10_000,
        median_lots=50,
        exchange_traded=False,
        counterparty_types=("BANK", "FUND", "BROKER", "CORPORATE"),
        trader_share=0.2,
    ),
    Product(
        asset_class="IRS",
        desk="Rates Derivatives",
        desk_short_name="Rates",
        instruments=150,
        markets=_shares("EZ-USD:35 EZ-EUR:35 EZ-GBP:15 EZ-JPY:10 EZ-CHF:5"),
        median_price=3.2,
        price_spread=0.25,
        price_decimals=4,
        lot=1_000_000,
        median_lots=25,
        exchange_traded=False,
        counterparty_types=("BANK", "FUND", "CORPORATE", "CCP"),
        trader_share=0.15,
    ),
)

# Trading hours in UTC (start, end) by region, for exchange-traded and OTC products.
EXCHANGE_HOURS = {"EMEA": (8.0, 16.5), "AMER": (14.5, 21.0), "APAC": (0.0, 6.0)}
OTC_HOURS = {"EMEA": (7.0, 17.0), "AMER": (12.0, 21.0), "APAC": (0.0, 8.0)}

COUNTERPARTY_TYPES = _shares("BANK:30 BROKER:20 FUND:32 CORPORATE:12 CCP:2 SOVEREIGN:4")
COUNTERPARTY_COUNTRIES = _shares("US:30 GB:20 DE:8 FR:8 CH:5 NL:4 IE:5 LU:5 JP:6 HK:3 SG:3 CA:3")

# Prefixes of real LEI issuers (local operating units); the rest of each LEI is made up.
LEI_ISSUER_PREFIXES = ("5493", "2138", "5299", "9695", "7245", "8156", "3912", "9845")

# Words in a spec's name or description that say which asset classes a source carries.
ASSET_CLASS_KEYWORDS = (
    ("equit", ("EQUITY",)),
    ("etf", ("ETF",)),
    ("fixed income", ("GOVT_BOND", "CORP_BOND")),
    ("bond", ("GOVT_BOND", "CORP_BOND")),
    ("credit", ("CORP_BOND",)),
    ("rates", ("IRS", "GOVT_BOND")),
    ("swap", ("IRS",)),
    ("derivative", ("IRS",)),
)


def asset_classes_for(text: str) -> tuple[str, ...]:
    """Asset classes named by keywords in a source's name and description; every class when none is named."""
    lowered = text.lower()
    named = {asset for keyword, classes in ASSET_CLASS_KEYWORDS if keyword in lowered for asset in classes}
    return tuple(product.asset_class for product in PRODUCTS if product.asset_class in named) or tuple(
        product.asset_class for product in PRODUCTS
    )
