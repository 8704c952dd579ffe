"""Word lists for made-up but plausible people, firms and instruments (ASCII only, no commas)."""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _pairs(text: str) -> dict[str, str]:
    return dict(pair.split(":", 1) for pair in text.split())


FIRST_NAMES = _words(
    """Aisha Alexander Amelia Andrea Arjun Beatrice Benjamin Carlos Charlotte Chen Daniel Elena Emma Fatima Felix
    Francesca Gabriel Grace Hannah Hiroshi Isabel Ivan James Jia Julia Kenji Laura Liam Lucas Maria Mateo Mei
    Mohammed Nadia Noah Olivia Omar Pablo Priya Rafael Rebecca Samuel Sarah Sofia Stefan Thomas Valentina Victor
    Wei Yuki"""
)

LAST_NAMES = _words(
    """Abe Almeida Anderson Bauer Becker Bianchi Brown Chan Clarke Costa Dubois Evans Fischer Fontaine Garcia Gupta
    Hall Hansen Hoffmann Ito Jansen Kapoor Keller Kim Kowalski Laurent Lee Lopez Martin Meyer Moreau Muller Nakamura
    Nguyen Novak OBrien Patel Petrov Rossi Santos Schmidt Silva Singh Suzuki Tanaka Taylor Wagner Wang Weber Wilson"""
)

FIRM_STEMS = _words(
    """Abingdon Alder Apex Arden Ashford Aurora Balmoral Beacon Belgrave Birch Blackwater Bridgeport Brookfield Cairn
    Caledonia Cedar Chiltern Cobalt Copper Crestline Danube Dover Eastgate Elbe Ember Fairhaven Falcon Fenwick Garnet
    Granite Harbour Hawthorn Helios Highland Holloway Horizon Iron Juniper Kestrel Kingsway Lakeside Larch Linden
    Lombard Maple Meridian Millbank Monarch Northbridge Norwood Oakmont Orion Pembroke Pinnacle Quarry Redwood Regent
    Riverside Rowan Sable Saxon Sentinel Silverline Solent Sterling Summit Tamar Thames Tidewater Trent Union Vale
    Vanguard Vega Westbury Whitehall Willow Windsor Yarrow Zenith"""
)

INDUSTRIES = _words(
    """Industries Energy Pharmaceuticals Technologies Motors Foods Telecom Mining Logistics Utilities Semiconductors
    Retail Chemicals Airlines Media Insurance"""
)

FUND_WORDS = ("Capital", "Asset Management", "Investment Partners", "Global Macro Fund", "Pension Fund", "Advisors")
BROKER_WORDS = ("Securities", "Brokerage", "Markets", "Capital Markets")
BANK_WORDS = ("Bank", "Banking Corporation", "Savings Bank", "Investment Bank")
CCP_WORDS = ("Clearing House", "Clearing Corporation", "Central Counterparty")
ETF_PROVIDERS = ("Summit Shares", "Beacon ETF", "Harbour Index", "Meridian Trackers", "Granite Funds")
ETF_INDICES = (
    "MSCI World",
    "S&P 500",
    "FTSE 100",
    "Euro Stoxx 50",
    "Nikkei 225",
    "MSCI Emerging Markets",
    "Global Aggregate Bond",
    "Euro Corporate Bond",
    "Clean Energy",
    "Nasdaq 100",
)

# Legal-form suffixes and the longer spelling a counterparty is sometimes renamed to.
LEGAL_FORMS = {
    "Ltd": "Limited",
    "Inc": "Incorporated",
    "PLC": "Public Limited Company",
    "LLP": "Limited Liability Partnership",
    "AG": "Aktiengesellschaft",
    "SA": "Societe Anonyme",
    "NV": "Naamloze Vennootschap",
    "KK": "Kabushiki Kaisha",
    "LP": "Limited Partnership",
}

COUNTRY_LEGAL_FORMS = _pairs(
    "US:Inc CA:Inc GB:PLC IE:PLC DE:AG CH:AG FR:SA LU:SA ES:SA IT:SA NL:NV BE:NV JP:KK AU:Ltd HK:Ltd SG:Ltd SE:Ltd"
)

SOVEREIGN_ISSUERS = {
    "US": "US Treasury",
    "GB": "UK Gilt",
    "DE": "Bundesrepublik Deutschland",
    "FR": "Republique Francaise OAT",
    "IT": "Buoni Poliennali del Tesoro",
    "ES": "Bonos del Estado",
    "JP": "Japan Government Bond",
    "NL": "Dutch State Loan",
    "CA": "Government of Canada",
    "AU": "Commonwealth of Australia",
    "CH": "Swiss Confederation",
    "SE": "Kingdom of Sweden",
}
