"""Admin login throttling: after a few failed guesses, each further guess waits twice as long.

Every login attempt is counted per client address and, while that address is within its free
attempts, per account, before its password is checked (so a burst of concurrent guesses cannot
all slip past the check); a successful login clears both counters. A counter lets
`free_attempts` attempts through; the attempt that reaches that number starts a wait of
`first_wait` seconds, and each attempt after a wait has passed doubles it, up to `max_wait`.
While a wait runs, attempts are refused without being checked or counted, so hammering never
lengthens it. A counter is forgotten `window` seconds after its last attempt (or after its wait,
when that ends later).

The per-address counter stops one client; the per-account counter stops a guesser spread over
many addresses. The counters live behind `web.ports.LoginAttemptStore` (the Dapr state store in
production), so every web replica sees the same ones.

Standard library only, like web.domain.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from web.ports import LoginAttemptStore

ADMIN_ACCOUNT = "admin"
"""The one account web has: the admin, who logs in with a password only."""

KEY_PREFIX = "login-attempts"
MAX_DOUBLINGS = 40  # 2**40 times any first wait is far past any max_wait: no huge numbers
UNSAFE_KEY_CHARS = re.compile(r"[^0-9A-Za-z.:_/-]")

Scope = Literal["address", "account"]


@dataclass(frozen=True)
class Attempts:
    """One counter as stored: times are seconds since the epoch, shared by every replica."""

    count: int
    wait_until: float
    """0 when the last attempt started no wait."""
    expires_at: float
    """From then on the counter is forgotten, as if it never existed."""

    def live(self, now: float) -> bool:
        return now < self.expires_at


@dataclass(frozen=True)
class Backoff:
    """How one counter slows guessing down (WEB_LOGIN_* settings)."""

    free_attempts: int
    first_wait: int
    max_wait: int
    window: int

    def __post_init__(self) -> None:
        if self.free_attempts < 1:
            raise ValueError("free_attempts must be at least 1")
        if not 1 <= self.first_wait <= self.max_wait:
            raise ValueError("first_wait must be at least 1 second and at most max_wait")
        if self.window < 1:
            raise ValueError("window must be at least 1 second")

    @property
    def keep_seconds(self) -> int:
        """How long a counter can matter after its last write: its store may drop it then."""
        return self.max_wait + self.window

    def wait(self, attempts: Attempts | None, now: float) -> float:
        """Seconds before the next attempt may be tried; 0 when it may be tried now."""
        if attempts is None or not attempts.live(now):
            return 0.0
        return max(0.0, attempts.wait_until - now)

    def counted(self, attempts: Attempts | None, now: float) -> Attempts:
        """The counter after one more attempt at `now` (which must not be waiting)."""
        count = (attempts.count if attempts is not None and attempts.live(now) else 0) + 1
        wait_until = 0.0
        if count >= self.free_attempts:
            doublings = min(count - self.free_attempts, MAX_DOUBLINGS)
            wait_until = now + min(self.first_wait * 2**doublings, self.max_wait)
        return Attempts(count, wait_until, max(now, wait_until) + self.window)


@dataclass(frozen=True)
class Refusal:
    """An attempt refused because its counter is waiting."""

    scope: Scope
    retry_after: int
    """Whole seconds, rounded up: what the Retry-After header says."""


@dataclass(frozen=True)
class Subject:
    scope: Scope
    key: str
    backoff: Backoff


def address_of(host: str | None) -> str:
    """The address a client's attempts are counted under.

    An IPv6 client is counted by its /64, since one host usually has a whole /64 to pick from;
    an IPv4 client in IPv6 form is counted as that IPv4 address.
    """
    if not host:
        return "unknown"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return UNSAFE_KEY_CHARS.sub("_", host)[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def counter_key(scope: Scope, name: str) -> str:
    return f"{KEY_PREFIX}:{scope}:{name}"


def describe_wait(seconds: int) -> str:
    """`seconds` for a person: "45 seconds", "2 minutes", "1 hour" (rounded up)."""
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 90 * 60:
        minutes = math.ceil(seconds / 60)
        return f"{minutes} minutes"
    hours = math.ceil(seconds / 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


class LoginThrottle:
    """Counts login attempts per client address and per account, refusing those that must wait."""

    def __init__(
        self, store: LoginAttemptStore, per_address: Backoff, per_account: Backoff
    ) -> None:
        self._store = store
        self._per_address = per_address
        self._per_account = per_account

    def _subjects(self, address: str, account: str) -> tuple[Subject, Subject]:
        # The address first: an address that must wait never reaches the account's counter.
        return (
            Subject("address", counter_key("address", address), self._per_address),
            Subject("account", counter_key("account", account), self._per_account),
        )

    async def attempt(self, address: str, account: str, now: float) -> Refusal | None:
        """Count an attempt for `address` and `account`; a Refusal when either must wait first.

        The attempt is counted before its password is checked, as if it failed; a successful
        login then clears the counters (`succeeded`). An address past its free attempts is slowed
        down by its own counter and no longer counts on the account: otherwise one client,
        guessing each time its wait ends, would in time make the admin wait everywhere.
        """
        by_address, by_account = self._subjects(address, account)
        wait, count = await self._count(by_address, now, count_it=True)
        if wait > 0:
            return Refusal(by_address.scope, max(1, math.ceil(wait)))
        within_free = count <= by_address.backoff.free_attempts
        wait, _ = await self._count(by_account, now, count_it=within_free)
        if wait > 0:
            return Refusal(by_account.scope, max(1, math.ceil(wait)))
        return None

    async def succeeded(self, address: str, account: str) -> None:
        """The password was right: forget the attempts of this address and this account."""
        for subject in self._subjects(address, account):
            await self._store.forget(subject.key)

    async def _count(self, subject: Subject, now: float, count_it: bool) -> tuple[float, int]:
        """One atomic step on the counter: the wait it is in (0 when none) and its count after
        this attempt, which is counted only when `count_it` and no wait runs."""
        wait, count = 0.0, 0

        def change(attempts: Attempts | None) -> Attempts | None:
            nonlocal wait, count
            wait = subject.backoff.wait(attempts, now)
            live = attempts is not None and attempts.live(now)
            count = attempts.count if attempts is not None and live else 0
            if wait > 0 or not count_it:
                return None
            counted = subject.backoff.counted(attempts, now)
            count = counted.count
            return counted

        await self._store.update(subject.key, change, subject.backoff.keep_seconds)
        return wait, count
