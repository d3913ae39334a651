"""Who is asking: the shopper's signed cookie, the admin's signed session, cross-site checks.

* Shopper identity is a random id in a signed cookie (HttpOnly, SameSite=Lax): nothing to log
  in to, nothing a shopper can forge to read another shopper's cart or orders.
* Cross-site request forgery: SameSite keeps the cookies off cross-site POSTs in current
  browsers; on top of that a POST whose `Sec-Fetch-Site` or `Origin` says it comes from another
  site is refused. A client that sends neither header (curl, the load generator, the sidecar
  delivering events) is no browser, so it cannot be a forgery, and is let through.
* The admin session is a signed, timestamped cookie bound to the current password hash, so
  changing ADMIN_PASSWORD_HASH ends every session.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from itsdangerous import BadSignature, Signer, TimestampSigner

SHOPPER_COOKIE = "shop_session-id"  # Online Boutique's cookie names
CURRENCY_COOKIE = "shop_currency"
ADMIN_COOKIE = "sidecart_admin"
SHOPPER_SECONDS = 90 * 24 * 3600
SHOPPER_ID = re.compile(r"[0-9a-f]{32}")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Shopper:
    """The shopper of one request; a new id is made only when a route asks for it."""

    known_id: str | None
    _new_id: str | None = field(default=None, init=False)

    @property
    def id(self) -> str:
        if self.known_id is not None:
            return self.known_id
        if self._new_id is None:
            self._new_id = uuid.uuid4().hex
        return self._new_id

    @property
    def new_id(self) -> str | None:
        return self._new_id


class Keys:
    """Signs and checks web's cookies with one secret, a different salt per purpose."""

    def __init__(self, secret: str, admin_password_hash: str | None) -> None:
        self._shopper = Signer(secret, salt="sidecart.shopper")
        self._admin = TimestampSigner(secret, salt="sidecart.admin")
        fingerprint = hashlib.sha256((admin_password_hash or "").encode()).hexdigest()[:16]
        self._admin_value = f"admin:{fingerprint}"

    def shopper_cookie(self, shopper_id: str) -> str:
        return self._shopper.sign(shopper_id).decode("ascii")

    def shopper_from(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            value = self._shopper.unsign(cookie).decode("ascii")
        except (BadSignature, UnicodeError):
            return None
        return value if SHOPPER_ID.fullmatch(value) else None

    def admin_cookie(self) -> str:
        return self._admin.sign(self._admin_value).decode("ascii")

    def is_admin(self, cookie: str | None, max_age: int) -> bool:
        if not cookie:
            return False
        try:
            return self._admin.unsign(cookie, max_age=max_age).decode() == self._admin_value
        except (BadSignature, UnicodeError):
            return False


def _split(url: str) -> SplitResult | None:
    """`url`'s parts, or None for a URL too broken to parse (`http://[`)."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _origin_of(url: str) -> str:
    parts = _split(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts else "unparseable:"


def cross_site_reason(
    method: str, headers: Mapping[str, str], own_origin: str, allowed: Iterable[str] = ()
) -> str | None:
    """Why this request looks like a cross-site forgery, or None when it does not."""
    if method.upper() in SAFE_METHODS:
        return None
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        # Set by the browser itself, so it is trusted over Origin (which a proxy may not match).
        if fetch_site.lower() in {"same-origin", "none"}:
            return None
        return f"Sec-Fetch-Site is {fetch_site!r}"
    origin = headers.get("origin")
    if origin is None:
        return None
    accepted = {own_origin.lower(), *(_origin_of(a) for a in allowed)}
    if origin.lower() == "null" or _origin_of(origin) not in accepted:
        return f"Origin {origin!r} is not this site"
    return None


def local_path(target: str | None, default: str = "/", prefix: str = "/") -> str:
    """`target` when it is a path on this site under `prefix` (no open redirects), else default."""
    parts = _split(target) if target else None
    if parts is None:
        return default
    path = parts.path or "/"
    if parts.scheme or parts.netloc or not path.startswith(prefix) or path.startswith("//"):
        return default
    if "\\" in path or any(ord(c) < 32 for c in path + parts.query):
        return default
    return path + (f"?{parts.query}" if parts.query else "")


def referer_path(referer: str | None, own_origin: str, default: str = "/") -> str:
    """The path of a Referer on this site (to send the shopper back), else `default`."""
    parts = _split(referer) if referer else None
    if parts is None or _origin_of(referer or "") != own_origin.lower():
        return default
    return local_path(parts.path + (f"?{parts.query}" if parts.query else ""), default)
