"""Showing prices in the shopper's currency: rates from a data file, Decimal all the way.

Prices stay in the catalog's currency everywhere else (orders are charged in it); conversion is
for display only. Amounts are rounded half-to-even to the target currency's minor unit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from web.domain import Price


@dataclass(frozen=True)
class Currency:
    code: str
    rate: Decimal  # units of this currency per one unit of the base currency
    decimals: int

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


class Rates:
    def __init__(self, base: str, currencies: Mapping[str, Currency]) -> None:
        if base not in currencies:
            raise ValueError(f"base currency {base!r} has no rate")
        self.base = base
        self._currencies = dict(currencies)

    @property
    def codes(self) -> tuple[str, ...]:
        """The currencies a shopper can pick, the base first, then alphabetically."""
        return (self.base, *sorted(c for c in self._currencies if c != self.base))

    def __contains__(self, code: object) -> bool:
        return code in self._currencies

    def convert(self, price: Price, to: str) -> Price:
        """`price` in currency `to`; unchanged when either currency has no rate."""
        source = self._currencies.get(price.currency)
        target = self._currencies.get(to)
        if source is None or target is None or source.code == target.code:
            return price
        amount = price.amount / source.rate * target.rate
        return Price(amount.quantize(target.quantum, rounding=ROUND_HALF_EVEN), target.code)

    def format(self, price: Price) -> str:
        currency = self._currencies.get(price.currency)
        decimals = currency.decimals if currency is not None else 2
        return f"{price.currency} {price.amount:,.{decimals}f}"


def _currency(code: str, raw: Any, path: Path) -> Currency:
    where = f"{path}: currencies.{code}"
    if len(code) != 3 or not code.isascii() or not code.isupper():
        raise ValueError(f"{where}: not an ISO 4217 code")
    if not isinstance(raw, dict) or not isinstance(raw.get("rate"), str):
        raise ValueError(f'{where}: needs a rate as a decimal string, like "0.92"')
    try:
        rate = Decimal(raw["rate"])
    except InvalidOperation as exc:
        raise ValueError(f"{where}.rate: {raw['rate']!r} is not a decimal") from exc
    if not rate.is_finite() or rate <= 0:
        raise ValueError(f"{where}.rate: must be a positive number, got {raw['rate']!r}")
    decimals = raw.get("decimals", 2)
    if not isinstance(decimals, int) or not 0 <= decimals <= 4:
        raise ValueError(f"{where}.decimals: must be 0 to 4, got {decimals!r}")
    return Currency(code, rate, decimals)


def load_rates(path: Path) -> Rates:
    """Read the rates file, naming the file and the key of anything wrong in it."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the currency rates: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("currencies"), dict):
        raise ValueError(f"{path}: needs an object with a 'currencies' object")
    currencies = {code: _currency(code, raw, path) for code, raw in doc["currencies"].items()}
    return Rates(str(doc.get("base", "USD")), currencies)
