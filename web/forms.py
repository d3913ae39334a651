"""What a shopper (or the admin) may submit: every form field checked, every error named.

Standard library only. A reader collects one message per bad field, so the form comes back
with all of them at once; values are trimmed, and markup characters are refused outright
(everything is escaped on output too: refusing them only makes the mistake visible early).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from web.domain import MAX_QUANTITY, Address, Card, CartItem

PRODUCT_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")
ORDER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
# Notification's rule (services/notification/domain.py check_address): a plain ASCII addr-spec,
# so no order is placed with an address its confirmation email could never be sent to.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")
ZIP_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{1,11}")
CURRENCY = re.compile(r"[A-Z]{3}")
CVV = re.compile(r"[0-9]{3,4}")
MARKUP = re.compile(r"[<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CARD_SEPARATORS = re.compile(r"[ -]")
SECRET_FIELDS = frozenset({"credit_card_number", "credit_card_cvv", "password"})


class InvalidFormError(ValueError):
    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = dict(errors)


def refill(form: Mapping[str, str]) -> dict[str, str]:
    """The values to show again in a form that failed: never a card number, CVV or password."""
    return {k: v for k, v in form.items() if k not in SECRET_FIELDS}


class FormReader:
    def __init__(self, form: Mapping[str, str]) -> None:
        self.form = form
        self.errors: dict[str, str] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)

    def text(
        self,
        name: str,
        *,
        max_length: int,
        required: bool = True,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
        multiline: bool = False,
    ) -> str:
        value = self.form.get(name, "").strip()
        if not value:
            if required:
                self.fail(name, "is required")
            return ""
        if len(value) > max_length:
            self.fail(name, f"must be at most {max_length} characters")
        elif MARKUP.search(value.replace("\r", "").replace("\n", "") if multiline else value):
            self.fail(name, "must not contain < or > or control characters")
        elif pattern is not None and not pattern.fullmatch(value):
            self.fail(name, hint or "is not valid")
        return value

    def integer(self, name: str, low: int, high: int, *, required: bool = True) -> int:
        raw = self.form.get(name, "").strip()
        if not raw:
            if required:
                self.fail(name, "is required")
            return low
        if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 12:
            self.fail(name, "must be a whole number")
            return low
        value = int(raw)
        if not low <= value <= high:
            self.fail(name, f"must be between {low} and {high}")
        return value

    def decimal(self, name: str, low: Decimal, high: Decimal, places: int) -> Decimal:
        raw = self.form.get(name, "").strip()
        if not raw:
            self.fail(name, "is required")
            return low
        try:
            value = Decimal(raw)
        except InvalidOperation:
            self.fail(name, "must be a number like 12.34")
            return low
        if not value.is_finite() or not low <= value <= high:
            self.fail(name, f"must be between {low} and {high}")
        elif value != value.quantize(Decimal(1).scaleb(-places)):
            self.fail(name, f"must have at most {places} decimal places")
        return value

    def check(self) -> None:
        if self.errors:
            raise InvalidFormError(self.errors)


def product_id(form: Mapping[str, str]) -> str:
    reader = FormReader(form)
    value = reader.text("product_id", max_length=40, pattern=PRODUCT_ID, hint="is not a product id")
    reader.check()
    return value


def cart_item(form: Mapping[str, str], *, allow_zero: bool = False) -> CartItem:
    """POST /cart (add: 1 or more) and POST /cart/update (set: 0 removes the line)."""
    reader = FormReader(form)
    item = CartItem(
        product_id=reader.text(
            "product_id", max_length=40, pattern=PRODUCT_ID, hint="is not a product id"
        ),
        quantity=reader.integer("quantity", 0 if allow_zero else 1, MAX_QUANTITY),
    )
    reader.check()
    return item


def currency_code(form: Mapping[str, str], known: Iterable[str]) -> str:
    reader = FormReader(form)
    code = reader.text(
        "currency_code", max_length=3, pattern=CURRENCY, hint="is not a currency code like EUR"
    )
    if code and "currency_code" not in reader.errors and code not in set(known):
        reader.fail("currency_code", f"{code} is not a currency this shop shows")
    reader.check()
    return code


@dataclass(frozen=True)
class Checkout:
    request_id: str
    email: str
    address: Address
    card: Card


def checkout(form: Mapping[str, str], today: date) -> Checkout:
    """The Online Boutique checkout form, plus an optional request id for idempotency."""
    reader = FormReader(form)
    request_id = reader.text(
        "request_id",
        max_length=64,
        required=False,
        pattern=REQUEST_ID,
        hint="is not a request id (8 to 64 letters, digits, - or _)",
    )
    email = reader.text("email", max_length=254, pattern=EMAIL, hint="is not an email address")
    address = Address(
        street_address=reader.text("street_address", max_length=200),
        zip_code=reader.text(
            "zip_code",
            max_length=12,
            pattern=ZIP_CODE,
            hint="must be 2 to 12 letters, digits, spaces or dashes",
        ),
        city=reader.text("city", max_length=100),
        state=reader.text("state", max_length=100),
        country=reader.text("country", max_length=100),
    )
    number = CARD_SEPARATORS.sub("", reader.text("credit_card_number", max_length=30))
    if (
        number
        and "credit_card_number" not in reader.errors
        and not (number.isascii() and number.isdigit() and 12 <= len(number) <= 19)
    ):
        reader.fail("credit_card_number", "must be 12 to 19 digits")
    month = reader.integer("credit_card_expiration_month", 1, 12)
    year = reader.integer("credit_card_expiration_year", today.year, today.year + 100)
    if (
        "credit_card_expiration_month" not in reader.errors
        and "credit_card_expiration_year" not in reader.errors
        and (year, month) < (today.year, today.month)
    ):
        reader.fail("credit_card_expiration_month", "the card has expired")
    cvv = reader.text("credit_card_cvv", max_length=4, pattern=CVV, hint="must be 3 or 4 digits")
    reader.check()
    return Checkout(
        request_id=request_id or uuid.uuid4().hex,
        email=email,
        address=address,
        card=Card(number=number, exp_month=month, exp_year=year, cvv=cvv),
    )


@dataclass(frozen=True)
class ProductEdit:
    name: str
    description: str
    categories: tuple[str, ...]
    price: Decimal
    currency: str
    stock: int
    stock_seen: int
    """The stock the form showed (hidden): the catalog applies `stock - stock_seen`."""
    picture: str


def product_edit(form: Mapping[str, str]) -> ProductEdit:
    reader = FormReader(form)
    categories = reader.text("categories", max_length=400, required=False)
    names = tuple(c.strip() for c in categories.split(",") if c.strip())
    if any(len(c) > 40 for c in names):
        reader.fail("categories", "each category must be at most 40 characters")
    edit = ProductEdit(
        name=reader.text("name", max_length=120),
        description=reader.text("description", max_length=2000, required=False, multiline=True),
        categories=names,
        price=reader.decimal("price", Decimal(0), Decimal("9999999999.99"), places=2),
        currency=reader.text(
            "currency", max_length=3, pattern=CURRENCY, hint="is not a currency code like USD"
        ),
        stock=reader.integer("stock", 0, 1_000_000),
        stock_seen=reader.integer("stock_seen", 0, 1_000_000),
        picture=reader.text(
            "picture",
            max_length=200,
            required=False,
            pattern=PRODUCT_ID,
            hint="must be letters, digits, - or _",
        ),
    )
    reader.check()
    return edit


def admin_password(form: Mapping[str, str]) -> str:
    reader = FormReader(form)
    password = form.get("password", "")
    if not password:
        reader.fail("password", "is required")
    elif len(password) > 1024:
        reader.fail("password", "must be at most 1024 characters")
    reader.check()
    return password
