"""Money as the shop holds it: an ``int`` of minor units and an ISO 4217 code.

Never a float: ``1999`` SAR-halalas is 19.99 SAR, ``1999`` JPY is ¥1,999. The exponent
(minor units per major unit = 10 ** exponent) comes from the ISO 4217 table below, so a
client can format ``price / 10 ** exponent`` without guessing.
"""

from __future__ import annotations

from typing import Any, Final

from voiceroom.commerce.errors import CommerceCode, fail

MAX_MINOR: Final = 10**12  # well inside 2**53, so JavaScript reads every amount exactly

# Active ISO 4217 currency codes (list one, 2024) and their minor-unit exponents.
# Funds codes and precious metals (XAU, XDR...) are left out: nobody sells in them.
_EXPONENTS: Final[dict[int, str]] = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
    2: (
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN "
        "BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
        "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR "
        "KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
        "MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
        "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD "
        "TZS UAH USD UYU UZS VED VES WST XCD YER ZAR ZMW ZWG"
    ),
}
CURRENCIES: Final[dict[str, int]] = {
    code: exp for exp, codes in _EXPONENTS.items() for code in codes.split()
}


def check_currency(value: Any) -> str:
    """The ISO 4217 code ``value`` names (upper case, exactly three letters)."""
    if type(value) is not str or value not in CURRENCIES:
        raise fail(CommerceCode.BAD_CURRENCY, f"{value!r} is not an ISO 4217 currency code")
    return value


def exponent(currency: str) -> int:
    return CURRENCIES[currency]


def check_amount(value: Any, what: str = "price") -> int:
    """An amount of minor units: an ``int`` (not a bool, not a float) in 0..MAX_MINOR."""
    if type(value) is not int:
        raise fail(
            CommerceCode.BAD_PRICE,
            f"{what} must be an integer number of minor units, not {type(value).__name__}",
        )
    if not 0 <= value <= MAX_MINOR:
        raise fail(CommerceCode.BAD_PRICE, f"{what} must be 0..{MAX_MINOR} minor units")
    return value


__all__ = ["CURRENCIES", "MAX_MINOR", "check_amount", "check_currency", "exponent"]
