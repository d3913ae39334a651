"""Admin login throttling: the rule, the login route that applies it, and its Dapr store.

The rule is tested with an explicit clock; the route with web's injectable clock, fake stores
shared between apps (replicas) and TestClients that connect from chosen addresses; the Dapr
store over the fake sidecar that answers like daprd over Redis (ETags, TTL metadata).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from sidecart.service.server import load_settings
from tests.unit.sidecart.service.fake_dapr import FakeDaprClient
from tests.unit.web.conftest import ADMIN_PASSWORD, TODAY, make_settings
from tests.unit.web.fakes import FakeLoginAttempts, Fakes
from web.app import create_app
from web.dapr_adapters import DaprLoginAttemptStore
from web.domain import UpstreamError
from web.login_throttle import (
    ADMIN_ACCOUNT,
    Attempts,
    Backoff,
    LoginThrottle,
    Refusal,
    address_of,
    counter_key,
    describe_wait,
)
from web.settings import WebSettings

T0 = 1_800_000_000.0
BACKOFF = Backoff(free_attempts=3, first_wait=10, max_wait=80, window=600)
ACCOUNT_BACKOFF = Backoff(free_attempts=5, first_wait=10, max_wait=80, window=600)
HOME = "203.0.113.7"


def throttle(store: FakeLoginAttempts | DaprLoginAttemptStore | None = None) -> LoginThrottle:
    return LoginThrottle(store or FakeLoginAttempts(), BACKOFF, ACCOUNT_BACKOFF)


async def attempts(limiter: LoginThrottle, n: int, at: float, address: str = HOME) -> list[Any]:
    return [await limiter.attempt(address, ADMIN_ACCOUNT, at) for _ in range(n)]


# --- the rule -------------------------------------------------------------------------------


async def test_the_attempts_up_to_the_limit_go_through_and_the_next_one_waits() -> None:
    limiter = throttle()
    assert await attempts(limiter, 3, T0) == [None, None, None]
    assert await limiter.attempt(HOME, ADMIN_ACCOUNT, T0) == Refusal("address", 10)


async def test_the_wait_counts_down_in_whole_seconds_rounded_up() -> None:
    limiter = throttle()
    await attempts(limiter, 3, T0)
    assert await limiter.attempt(HOME, ADMIN_ACCOUNT, T0 + 0.5) == Refusal("address", 10)
    assert await limiter.attempt(HOME, ADMIN_ACCOUNT, T0 + 9.9) == Refusal("address", 1)
    assert await limiter.attempt(HOME, ADMIN_ACCOUNT, T0 + 10) is None


async def test_each_attempt_after_a_wait_doubles_the_next_wait_up_to_the_maximum() -> None:
    limiter = throttle()
    now = T0
    await attempts(limiter, 3, now)
    waits = []
    for _ in range(5):
        refusal = await limiter.attempt(HOME, ADMIN_ACCOUNT, now)
        assert refusal is not None
        waits.append(refusal.retry_after)
        now += refusal.retry_after
        assert await limiter.attempt(HOME, ADMIN_ACCOUNT, now) is None
    assert waits == [10, 20, 40, 80, 80]


async def test_refused_attempts_are_not_counted_so_hammering_never_lengthens_the_wait() -> None:
    store = FakeLoginAttempts()
    limiter = throttle(store)
    await attempts(limiter, 3, T0)
    before = dict(store.counters)
    refusals = await attempts(limiter, 50, T0 + 1)
    assert {r.retry_after for r in refusals} == {9}
    assert store.counters == before
    assert await limiter.attempt(HOME, ADMIN_ACCOUNT, T0 + 10) is None


async def test_a_counter_is_forgotten_a_window_after_its_last_attempt() -> None:
    limiter = throttle()
    await attempts(limiter, 2, T0)
    assert await attempts(limiter, 1, T0 + 599) == [None]  # the third: still counted
    assert await limiter.attempt(HOME, ADMIN_ACCOUNT, T0 + 600) == Refusal("address", 9)
    assert await attempts(limiter, 3, T0 + 599 + 10 + 600) == [None, None, None]


async def test_the_window_starts_when_the_wait_ends_not_at_the_attempt() -> None:
    limiter = throttle()
    now = T0
    await attempts(limiter, 3, now)  # wait 10
    now += 10
    await attempts(limiter, 1, now)  # wait 20
    now += 20
    await attempts(limiter, 1, now)  # wait 40, then the window: forgotten at now + 40 + 600
    assert await limiter.attempt(HOME, ADMIN_ACCOUNT, now + 40 + 599) is None
    assert await limiter.attempt(HOME, ADMIN_ACCOUNT, now + 40 + 599) == Refusal("address", 80)


async def test_a_success_forgets_the_attempts_of_its_address_and_of_the_account() -> None:
    store = FakeLoginAttempts()
    limiter = throttle(store)
    await attempts(limiter, 2, T0)
    await limiter.succeeded(HOME, ADMIN_ACCOUNT)
    assert store.counters == {}
    assert await attempts(limiter, 3, T0) == [None, None, None]


async def test_an_address_that_must_wait_does_not_use_up_the_attempts_of_the_account() -> None:
    store = FakeLoginAttempts()
    limiter = throttle(store)
    await attempts(limiter, 3, T0)
    await attempts(limiter, 100, T0 + 1)
    assert store.counters[counter_key("account", ADMIN_ACCOUNT)].count == 3
    assert await limiter.attempt("198.51.100.1", ADMIN_ACCOUNT, T0 + 1) is None


async def test_one_address_guessing_whenever_its_wait_ends_never_makes_the_account_wait() -> None:
    """A single client can only spend its free attempts on the account, however patient."""
    store = FakeLoginAttempts()
    limiter = throttle(store)
    now, refused_by = T0, set()
    for _ in range(2000):
        refusal = await limiter.attempt(HOME, ADMIN_ACCOUNT, now)
        if refusal is not None:
            refused_by.add(refusal.scope)
        now += refusal.retry_after if refusal is not None else 1
    assert refused_by == {"address"}
    assert store.counters[counter_key("account", ADMIN_ACCOUNT)].count <= BACKOFF.free_attempts
    assert await limiter.attempt("198.51.100.1", ADMIN_ACCOUNT, now) is None


async def test_guesses_spread_over_many_addresses_make_the_account_wait() -> None:
    limiter = throttle()
    for n in range(5):
        assert await limiter.attempt(f"198.51.100.{n}", ADMIN_ACCOUNT, T0) is None
    assert await limiter.attempt("198.51.100.99", ADMIN_ACCOUNT, T0) == Refusal("account", 10)


async def test_a_burst_of_concurrent_attempts_lets_through_only_the_free_ones() -> None:
    fake = FakeDaprClient()
    limiter = throttle(DaprLoginAttemptStore(cast(Any, fake), "statestore"))
    results = await asyncio.gather(*(limiter.attempt(HOME, ADMIN_ACCOUNT, T0) for _ in range(12)))
    assert sum(result is None for result in results) == 3
    assert fake.conflicts > 0


async def test_counters_are_kept_only_as_long_as_they_can_matter() -> None:
    store = FakeLoginAttempts()
    await throttle(store).attempt(HOME, ADMIN_ACCOUNT, T0)
    assert store.keep_seconds == {
        counter_key("address", HOME): 80 + 600,
        counter_key("account", ADMIN_ACCOUNT): 80 + 600,
    }


@pytest.mark.parametrize(
    ("host", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("testclient", "testclient"),
        ("bad host\n{}", "bad_host___"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_a_client_is_counted_by_its_address_and_an_ipv6_client_by_its_64(
    host: str | None, counted_as: str
) -> None:
    assert address_of(host) == counted_as


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (1, "1 second"),
        (45, "45 seconds"),
        (89, "89 seconds"),
        (90, "2 minutes"),
        (3600, "60 minutes"),
        (5400, "2 hours"),
        (7200, "2 hours"),
        (7201, "3 hours"),
    ],
)
def test_a_wait_is_said_in_words_rounded_up(seconds: int, said: str) -> None:
    assert describe_wait(seconds) == said


@pytest.mark.parametrize(
    "values",
    [
        {"free_attempts": 0},
        {"first_wait": 0},
        {"first_wait": 100, "max_wait": 80},
        {"window": 0},
    ],
)
def test_a_backoff_that_makes_no_sense_is_refused(values: dict[str, int]) -> None:
    fields = {"free_attempts": 3, "first_wait": 10, "max_wait": 80, "window": 600, **values}
    with pytest.raises(ValueError, match="must be"):
        Backoff(**fields)


# --- the login route ------------------------------------------------------------------------

LIMITS = {
    "WEB_LOGIN_ATTEMPTS_PER_ADDRESS": 3,
    "WEB_LOGIN_ATTEMPTS_PER_ACCOUNT": 5,
    "WEB_LOGIN_WAIT_SECONDS": 30,
    "WEB_LOGIN_MAX_WAIT_SECONDS": 600,
    "WEB_LOGIN_WINDOW_SECONDS": 3600,
}


class Clock:
    def __init__(self) -> None:
        self.now = TODAY

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Web:
    """Web replicas over one set of fakes (one store), each with its own clients by address."""

    def __init__(self, fakes: Fakes, settings: WebSettings, clock: Clock) -> None:
        self.fakes = fakes
        self.settings = settings
        self.clock = clock
        self._open: list[TestClient] = []

    def client(self, address: str = HOME) -> TestClient:
        app = create_app(self.settings, self.fakes.factory())
        app.state.web.clock = self.clock
        client = TestClient(app, follow_redirects=False, client=(address, 50000))
        self._open.append(client.__enter__())
        return client

    def close(self) -> None:
        for client in self._open:
            client.__exit__(None, None, None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def web(fakes: Fakes, clock: Clock) -> Iterator[Web]:
    replicas = Web(fakes, make_settings(**LIMITS), clock)
    yield replicas
    replicas.close()


def guess(client: TestClient, password: str = "not-the-password") -> Any:
    return client.post("/admin/login", data={"password": password, "next": "/admin/orders"})


def test_the_attempt_after_the_limit_is_a_429_with_retry_after_and_the_form_saying_when(
    web: Web,
) -> None:
    client = web.client()
    assert [guess(client).status_code for _ in range(3)] == [401, 401, 401]
    refused = guess(client)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert "Too many failed logins from your address" in refused.text
    assert "try again in 30 seconds" in refused.text
    assert '<form action="/admin/login" method="post">' in refused.text
    assert 'name="next" value="/admin/orders"' in refused.text
    assert "set-cookie" not in refused.headers


def test_while_an_address_waits_even_the_right_password_is_refused_unchecked(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = web.client()
    for _ in range(3):
        guess(client)
    checked: list[str] = []
    monkeypatch.setattr(
        "web.views.admin.verify_password", lambda password, stored: checked.append(password)
    )
    web.clock.advance(29)
    refused = guess(client, ADMIN_PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert checked == []


def test_after_the_wait_the_right_password_logs_in_and_clears_both_counters(
    web: Web, fakes: Fakes
) -> None:
    client = web.client()
    for _ in range(3):
        guess(client)
    web.clock.advance(30)
    logged_in = guess(client, ADMIN_PASSWORD)
    assert logged_in.status_code == 303
    assert logged_in.headers["location"] == "/admin/orders"
    assert fakes.login_attempts.counters == {}


def test_a_success_resets_the_count_so_earlier_failures_no_longer_matter(web: Web) -> None:
    client = web.client()
    guess(client)
    guess(client)
    assert guess(client, ADMIN_PASSWORD).status_code == 303
    assert [guess(client).status_code for _ in range(3)] == [401, 401, 401]
    assert guess(client).status_code == 429


def test_the_wait_doubles_with_each_failure_after_one(web: Web) -> None:
    client = web.client()
    for _ in range(3):
        guess(client)
    web.clock.advance(30)
    assert guess(client).status_code == 401
    assert guess(client).headers["retry-after"] == "60"


def test_counters_are_forgotten_after_the_quiet_window(web: Web) -> None:
    client = web.client()
    for _ in range(3):
        guess(client)
    web.clock.advance(30 + 3599)
    assert guess(client).status_code == 401  # still counted: this one waits 60 s
    web.clock.advance(60 + 3600)
    assert [guess(client).status_code for _ in range(3)] == [401, 401, 401]


def test_another_address_still_logs_in_while_one_address_waits(web: Web) -> None:
    guesser = web.client("198.51.100.66")
    for _ in range(3):
        guess(guesser)
    assert guess(guesser).status_code == 429
    assert guess(web.client(HOME), ADMIN_PASSWORD).status_code == 303


def test_guesses_from_many_addresses_make_the_admin_account_wait(web: Web) -> None:
    statuses = [guess(web.client(f"198.51.100.{n}")).status_code for n in range(5)]
    assert statuses == [401] * 5
    refused = guess(web.client(HOME), ADMIN_PASSWORD)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "30"
    assert "Too many failed logins for the admin account" in refused.text


def test_the_limit_holds_across_web_replicas_sharing_the_store(web: Web) -> None:
    replicas = [web.client(), web.client(), web.client()]
    assert [guess(replica).status_code for replica in replicas] == [401, 401, 401]
    assert guess(web.client()).status_code == 429


def test_a_form_without_a_password_is_not_counted(web: Web, fakes: Fakes) -> None:
    client = web.client()
    assert [client.post("/admin/login", data={}).status_code for _ in range(5)] == [422] * 5
    assert fakes.login_attempts.counters == {}


def test_a_failing_store_refuses_the_login_rather_than_letting_guesses_through(
    web: Web, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    monkeypatch.setattr(
        "web.views.admin.verify_password", lambda password, stored: checked.append(password)
    )
    fakes.login_attempts.down.failing = True
    assert guess(web.client(), ADMIN_PASSWORD).status_code == 503
    assert checked == []


def test_a_refusal_is_logged_with_the_client_and_the_limit_never_the_password(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    client = web.client()
    for _ in range(3):
        guess(client, "guess-number-one")
    with caplog.at_level(logging.INFO):
        guess(client, "guess-number-two")
    refused = [r for r in caplog.records if r.getMessage().startswith("admin login refused")]
    assert [(r.__dict__["client"], r.__dict__["limit"]) for r in refused] == [(HOME, "address")]
    assert refused[0].__dict__["retry_after"] == 30
    assert "guess-number" not in caplog.text


def test_every_checked_password_goes_through_the_constant_time_comparison(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    client = web.client()
    guess(client, "x")
    guess(client, "a much longer wrong password than the right one")
    guess(client, ADMIN_PASSWORD)
    # Whatever the guess, the full derived key is compared, never the password itself.
    assert compared == [(32, 32)] * 3


# --- the Dapr store -------------------------------------------------------------------------


def dapr_store(fake: FakeDaprClient) -> DaprLoginAttemptStore:
    return DaprLoginAttemptStore(cast(Any, fake), "statestore")


async def test_the_dapr_store_writes_each_counter_with_its_time_to_live() -> None:
    fake = FakeDaprClient()
    await dapr_store(fake).update("k", lambda _: Attempts(1, 0.0, T0 + 600), 680)
    assert json.loads(fake.items["k"][0]) == {"count": 1, "wait_until": 0.0, "expires_at": T0 + 600}
    assert fake.ttl["k"] == "680"


async def test_the_dapr_store_gives_the_change_what_it_stored() -> None:
    fake = FakeDaprClient()
    store = dapr_store(fake)
    seen: list[Attempts | None] = []

    def change(current: Attempts | None) -> Attempts:
        seen.append(current)
        return Attempts((current.count if current else 0) + 1, 0.0, T0)

    await store.update("k", change, 60)
    await store.update("k", change, 60)
    assert seen == [None, Attempts(1, 0.0, T0)]


async def test_a_change_that_returns_none_writes_nothing() -> None:
    fake = FakeDaprClient()
    await dapr_store(fake).update("k", lambda _: None, 60)
    assert fake.writes == 0


async def test_an_unreadable_counter_counts_as_none_and_is_replaced() -> None:
    fake = FakeDaprClient(items={"k": (b"not json", 1)})
    seen: list[Attempts | None] = []

    def change(current: Attempts | None) -> Attempts:
        seen.append(current)
        return Attempts(1, 0.0, T0)

    await dapr_store(fake).update("k", change, 60)
    assert seen == [None]
    assert json.loads(fake.items["k"][0])["count"] == 1


async def test_forgetting_deletes_the_counter_and_forgetting_none_is_fine() -> None:
    fake = FakeDaprClient()
    store = dapr_store(fake)
    await store.update("k", lambda _: Attempts(1, 0.0, T0), 60)
    await store.forget("k")
    await store.forget("k")
    assert fake.items == {}


async def test_a_failing_state_store_is_an_unavailable_upstream() -> None:
    store = dapr_store(FakeDaprClient(down=True))
    with pytest.raises(UpstreamError) as update_error:
        await store.update("k", lambda _: Attempts(1, 0.0, T0), 60)
    with pytest.raises(UpstreamError) as forget_error:
        await store.forget("k")
    assert update_error.value.unavailable and forget_error.value.unavailable


# --- the settings ---------------------------------------------------------------------------


def test_the_login_limits_have_safe_defaults() -> None:
    settings = make_settings()
    assert settings.login_backoff("address") == Backoff(5, 60, 3600, 86400)
    assert settings.login_backoff("account") == Backoff(20, 60, 3600, 86400)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"WEB_LOGIN_ATTEMPTS_PER_ADDRESS": 0}, "greater than or equal to 1"),
        ({"WEB_LOGIN_ATTEMPTS_PER_ADDRESS": "five"}, "valid integer"),
        ({"WEB_LOGIN_WAIT_SECONDS": 0}, "greater than or equal to 1"),
        ({"WEB_LOGIN_WINDOW_SECONDS": 10}, "greater than or equal to 60"),
        (
            {"WEB_LOGIN_WAIT_SECONDS": 600, "WEB_LOGIN_MAX_WAIT_SECONDS": 300},
            "WEB_LOGIN_WAIT_SECONDS must not be more than WEB_LOGIN_MAX_WAIT_SECONDS",
        ),
        (
            {"WEB_LOGIN_ATTEMPTS_PER_ADDRESS": 10, "WEB_LOGIN_ATTEMPTS_PER_ACCOUNT": 5},
            "WEB_LOGIN_ATTEMPTS_PER_ACCOUNT must be at least WEB_LOGIN_ATTEMPTS_PER_ADDRESS",
        ),
    ],
)
def test_bad_login_limits_stop_web_at_start(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(**overrides)


def test_a_bad_login_limit_is_one_clear_line_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APP_ID", "web")
    monkeypatch.setenv("APP_PORT", "8080")
    monkeypatch.setenv("WEB_LOGIN_WAIT_SECONDS", "-5")
    with pytest.raises(SystemExit):
        load_settings(WebSettings, "web")
    assert "WEB_LOGIN_WAIT_SECONDS" in capsys.readouterr().err
