"""`sidecart bench` (make bench): side-by-side latency benchmarks of the running shop.

Benchmarks are not tests: nothing here runs under pytest, and nothing passes or fails. The
machine they run on is shared and noisy, so an absolute time means little from one minute to the
next; what holds is a comparison made in the same minutes. Every benchmark therefore measures its
alternatives interleaved in one run: round r runs each alternative once, in an order rotated by
r (ABC, BCA, CAB, ...), so no alternative always goes first or always follows the same one, and
slow spells of the machine hit all of them alike. Warm-up rounds come first and are not recorded.

The result is a ratio against a baseline, with its spread:

* `p50 ratio` / `p95 ratio`: the alternative's median (95th percentile) latency over the
  baseline's, taken over the rounds where both succeeded;
* `95% CI`: a bootstrap interval of the p50 ratio, resampling whole rounds (so that a slow spell
  stays paired as it was measured);
* `per slice`: the run is cut into ten consecutive slices and the p50 ratio computed in each; the
  smallest and largest show how much the ratio drifted while the machine's load changed.

`sidecar`: one catalog read made straight to the app, through catalog's own daprd, and through
web's daprd (two sidecars); and one state read through the sidecar's state API against the same
key read straight from Redis.

`checkout`: a checkout through web until ordering reports it Confirmed, on several
infrastructure profiles. Their stacks run at the same time when memory allows and the
checkouts go round-robin between them; otherwise one after another, said in the output.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import IO, Any, TypeVar, cast
from urllib.parse import unquote

import httpx
import psutil
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from sidecart import profile_install, profiles
from sidecart.errors import SidecartError
from sidecart.paths import PROJECT_ROOT, state_dir
from sidecart.testing import RunningStack, running_stack

RUN_FILE = PROJECT_ROOT / "dapr" / "dapr.yaml"
SHOP_APPS = ("web", "catalog", "cart", "ordering", "payment", "notification")
# A product of the catalog's seed data (services/catalog/data/products.json).
PRODUCT_ID = "OLJCESPC7Z"
GOOD_CARD = "4242 4242 4242 4242"
MAX_STOCK = 1_000_000  # catalog's upper bound: enough that no benchmark runs a product dry
SLICES = 10
RESAMPLES = 500
# How often a checkout's order is asked for its status: the latency measured is late by up to
# this much, alike for every profile.
POLL_SECONDS = 0.05
CHECKOUT_TIMEOUT = 60.0
SETUP_SECONDS = 60.0
# What one shop stack (6 apps, 6 sidecars, Redis, Zipkin) takes: 1.6 GiB RSS measured on this
# machine, and a JVM broker adds about 1 GiB. Stacks run at the same time only if that much is
# available and RESERVE_GIB stays free for everyone else on the machine.
STACK_GIB = 2.0
JVM_BROKER_GIB = 1.0
RESERVE_GIB = 4.0
GIB = 1024**3

T = TypeVar("T")


class ProbeError(Exception):
    """One measured request failed; the benchmark counts it and goes on."""


# --- statistics and layout (pure) --------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolating linearly between the closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is not between 0 and 100")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def rotation(items: Sequence[T], round_index: int) -> list[T]:
    """The order of round `round_index`: every item once, starting one further each round."""
    if not items:
        return []
    start = round_index % len(items)
    return [*items[start:], *items[:start]]


def slices(rounds: Sequence[int], count: int) -> list[list[int]]:
    """`rounds` cut into at most `count` consecutive parts of (nearly) equal size."""
    parts = min(count, len(rounds))
    return [
        list(rounds[i * len(rounds) // parts : (i + 1) * len(rounds) // parts])
        for i in range(parts)
    ]


@dataclass(frozen=True)
class Measure:
    """One row of the table; `baseline` names the row its ratios are taken against."""

    name: str
    baseline: str | None = None


@dataclass(frozen=True)
class Sample:
    measure: str
    round: int
    seconds: float


@dataclass(frozen=True)
class Ratio:
    p50: float
    p95: float
    ci_low: float
    ci_high: float
    slice_min: float
    slice_max: float
    rounds: int


@dataclass(frozen=True)
class Row:
    name: str
    baseline: str | None
    n: int
    errors: int
    p50: float | None
    p95: float | None
    ratio: Ratio | None


def _by_round(samples: Sequence[Sample], name: str) -> dict[int, list[float]]:
    found: dict[int, list[float]] = {}
    for sample in samples:
        if sample.measure == name:
            found.setdefault(sample.round, []).append(sample.seconds)
    return found


def ratio(
    samples: Sequence[Sample],
    name: str,
    baseline: str,
    rng: random.Random,
    slice_count: int = SLICES,
    resamples: int = RESAMPLES,
) -> Ratio | None:
    """`name` over `baseline`, over the rounds where both have samples; None if there are none."""
    mine, theirs = _by_round(samples, name), _by_round(samples, baseline)
    rounds = sorted(set(mine) & set(theirs))
    if not rounds:
        return None

    def over(chosen: Sequence[int]) -> tuple[list[float], list[float]]:
        return (
            [s for r in chosen for s in mine[r]],
            [s for r in chosen for s in theirs[r]],
        )

    def p50_ratio(chosen: Sequence[int]) -> float:
        top, bottom = over(chosen)
        return statistics.median(top) / statistics.median(bottom)

    top, bottom = over(rounds)
    boot = [p50_ratio(rng.choices(rounds, k=len(rounds))) for _ in range(resamples)]
    per_slice = [p50_ratio(part) for part in slices(rounds, slice_count)]
    return Ratio(
        p50=statistics.median(top) / statistics.median(bottom),
        p95=percentile(top, 95) / percentile(bottom, 95),
        ci_low=percentile(boot, 2.5),
        ci_high=percentile(boot, 97.5),
        slice_min=min(per_slice),
        slice_max=max(per_slice),
        rounds=len(rounds),
    )


def summarize(
    measures: Sequence[Measure],
    samples: Sequence[Sample],
    errors: Mapping[str, int],
    seed: int = 1,
    slice_count: int = SLICES,
    resamples: int = RESAMPLES,
) -> list[Row]:
    """One row per measure, in the order given; a fixed seed makes the intervals repeatable."""
    rng = random.Random(seed)  # noqa: S311 - resampling for an interval, not a secret
    rows = []
    for measure in measures:
        values = [s.seconds for s in samples if s.measure == measure.name]
        compared = (
            ratio(samples, measure.name, measure.baseline, rng, slice_count, resamples)
            if measure.baseline is not None and measure.baseline != measure.name
            else None
        )
        rows.append(
            Row(
                name=measure.name,
                baseline=measure.baseline if compared is not None else None,
                n=len(values),
                errors=errors.get(measure.name, 0),
                p50=percentile(values, 50) if values else None,
                p95=percentile(values, 95) if values else None,
                ratio=compared,
            )
        )
    return rows


def milliseconds(seconds: float | None) -> str:
    """Three significant digits or so: 0.84, 12.3, 456."""
    if seconds is None:
        return "-"
    ms = seconds * 1000
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 100:
        return f"{ms:.1f}"
    return f"{ms:.0f}"


def _times(value: float) -> str:
    return f"{value:.2f}x"


def table(rows: Sequence[Row], first: str = "path") -> str:
    header = (
        first,
        "n",
        "errors",
        "p50 ms",
        "p95 ms",
        "vs",
        "p50 ratio",
        "p95 ratio",
        "p50 ratio 95% CI",
        "p50 ratio per slice",
    )
    lines = []
    for row in rows:
        r = row.ratio
        lines.append(
            (
                row.name,
                str(row.n),
                str(row.errors),
                milliseconds(row.p50),
                milliseconds(row.p95),
                row.baseline or "-",
                _times(r.p50) if r else "-",
                _times(r.p95) if r else "-",
                f"{r.ci_low:.2f}-{r.ci_high:.2f}" if r else "-",
                f"{r.slice_min:.2f}-{r.slice_max:.2f}" if r else "-",
            )
        )
    widths = [max(len(x) for x in column) for column in zip(header, *lines, strict=True)]
    # Names read left to right; numbers line up on their last digit.
    left = {0, 5}

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def stack_gib(profile: profiles.Profile) -> float:
    return STACK_GIB + (JVM_BROKER_GIB if profile.pubsub == "kafka" else 0.0)


def fits_at_once(chosen: Sequence[profiles.Profile], available_bytes: int) -> tuple[bool, float]:
    """Whether every stack can run at once with RESERVE_GIB to spare, and the GiB they need."""
    needed = sum(stack_gib(p) for p in chosen)
    return available_bytes / GIB >= needed + RESERVE_GIB, needed


# --- interleaved measurement -------------------------------------------------------------------

Probe = Callable[[], Awaitable[dict[str, float]]]


@dataclass(frozen=True)
class Step:
    """One alternative: `probe` makes one request and returns the seconds of each measure."""

    name: str
    probe: Probe
    measures: tuple[str, ...]


@dataclass(frozen=True)
class Budget:
    """How long the measured phase lasts: wall-clock seconds, or rounds (requests per step)."""

    seconds: float | None = None
    requests: int | None = None

    def describe(self) -> str:
        if self.requests is not None:
            return f"{self.requests} requests per path"
        return f"{self.seconds:g} s"


@dataclass
class Measured:
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # by measure
    failed: dict[str, int] = field(default_factory=dict)  # by step
    last_error: dict[str, str] = field(default_factory=dict)  # by step
    rounds: int = 0
    seconds: float = 0.0

    def fail(self, step: Step, exc: Exception) -> None:
        for name in step.measures:
            self.errors[name] = self.errors.get(name, 0) + 1
        self.failed[step.name] = self.failed.get(step.name, 0) + 1
        self.last_error[step.name] = f"{type(exc).__name__}: {exc}"

    def merge(self, part: Measured) -> None:
        """Add a run measured apart; its rounds are numbered after this one's, never paired."""
        offset = self.rounds
        self.samples += [Sample(s.measure, s.round + offset, s.seconds) for s in part.samples]
        for name, count in part.errors.items():
            self.errors[name] = self.errors.get(name, 0) + count
        for name, count in part.failed.items():
            self.failed[name] = self.failed.get(name, 0) + count
        self.last_error.update(part.last_error)
        self.rounds += part.rounds
        self.seconds += part.seconds


async def _run_rounds(
    steps_per_worker: Sequence[Sequence[Step]], done: Callable[[int], bool], into: Measured
) -> None:
    """Workers take round numbers from one counter, so rounds are numbered in time order and
    concurrent rounds start at different places of the rotation."""
    counter = itertools.count()

    async def worker(steps: Sequence[Step]) -> None:
        while not done(round_index := next(counter)):
            for step in rotation(steps, round_index):
                try:
                    result = await step.probe()
                except (ProbeError, httpx.HTTPError, OSError) as exc:
                    into.fail(step, exc)
                    continue
                into.samples += [Sample(k, round_index, v) for k, v in result.items()]
            into.rounds = max(into.rounds, round_index + 1)

    await asyncio.gather(*(worker(steps) for steps in steps_per_worker))


async def interleave(
    steps_per_worker: Sequence[Sequence[Step]], budget: Budget, warmup: int, out: IO[str]
) -> Measured:
    """Warm-up rounds (`warmup` per worker, not recorded), then measured rounds until the budget
    is spent. Each worker runs its own steps: the same alternatives, with its own client state."""
    warm = Measured()
    workers = len(steps_per_worker)
    await _run_rounds(steps_per_worker, lambda r: r >= warmup * workers, warm)
    for step in steps_per_worker[0]:
        if warmup and warm.failed.get(step.name, 0) >= warmup * workers:
            raise SidecartError(
                f"bench: every warm-up request of {step.name!r} failed: "
                f"{warm.last_error.get(step.name, '?')}"
            )
    out.write(f"[bench] warm-up done; measuring {budget.describe()} ...\n")
    out.flush()
    measured = Measured()
    started = time.monotonic()
    if budget.requests is not None:
        limit = budget.requests
        await _run_rounds(steps_per_worker, lambda r: r >= limit, measured)
    else:
        deadline = started + (budget.seconds or 0.0)
        await _run_rounds(steps_per_worker, lambda _: time.monotonic() >= deadline, measured)
    measured.seconds = time.monotonic() - started
    return measured


def failure_lines(measured: Measured) -> list[str]:
    return [
        f"{name}: {measured.failed.get(name, 0)} requests failed, the last with {error}"
        for name, error in measured.last_error.items()
    ]


# --- the report ---------------------------------------------------------------------------------


@dataclass
class Report:
    benchmark: str
    context: list[str]
    rows: list[Row]
    first_column: str
    caveats: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        legend = [
            "ratio: the row over its `vs` row, over the same interleaved rounds (1.00x: no "
            "difference);",
            "  95% CI: bootstrap over rounds; per slice: min-max of the p50 ratio over "
            f"{SLICES} consecutive slices of the run",
        ]
        return "\n".join(
            [
                *self.context,
                "",
                table(self.rows, self.first_column),
                "",
                *legend,
                *(f"caveat: {c}" for c in self.caveats),
            ]
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "context": self.context,
            "settings": self.settings,
            "caveats": self.caveats,
            "rows": [asdict(r) for r in self.rows],
        }


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    available = psutil.virtual_memory().available / GIB
    return f"machine: {os.cpu_count()} CPUs, load average {load}, {available:.1f} GiB available"


def _stack_rss_gib(stack: RunningStack) -> float:
    total = 0
    for proc in stack.stack.processes:
        if proc.popen is None:
            continue
        try:
            leader = psutil.Process(proc.pid)
            for member in (leader, *leader.children(recursive=True)):
                total += member.memory_info().rss
        except psutil.Error:
            continue
    return total / GIB


def _fresh_dir(name: str) -> Path:
    """Each run's stacks keep their logs under .sidecart/bench/<name> until the next run."""
    folder = state_dir() / "bench" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _expect(response: httpx.Response, status: int) -> httpx.Response:
    if response.status_code != status:
        raise ProbeError(f"{response.request.url}: HTTP {response.status_code}: {response.text}")
    return response


# --- sidecar: the cost of going through Dapr ----------------------------------------------------


def sidecar_measures(with_redis: bool) -> list[Measure]:
    """b/a and c/a are what Dapr's invocation costs; d/e what its state API costs over Redis."""
    invocation = [
        Measure("a app direct"),
        Measure("b own sidecar", "a app direct"),
        Measure("c web's sidecar", "a app direct"),
    ]
    if not with_redis:
        return [*invocation, Measure("d state API")]
    return [*invocation, Measure("d state API", "e Redis HGET"), Measure("e Redis HGET")]


def _timed_get(client: httpx.AsyncClient, name: str, url: str, headers: dict[str, str]) -> Probe:
    async def probe() -> dict[str, float]:
        started = time.perf_counter()
        response = await client.get(url, headers=headers)
        elapsed = time.perf_counter() - started
        _expect(response, 200)
        return {name: elapsed}

    return probe


def _redis_probe(port: int, key: str) -> tuple[Probe, Callable[[], Awaitable[None]]]:
    # redis-py comes with the dev dependencies only: the Redis row needs it, nothing else does.
    from redis.asyncio import Redis  # noqa: PLC0415
    from redis.exceptions import RedisError  # noqa: PLC0415

    client = Redis(host="127.0.0.1", port=port)

    async def probe() -> dict[str, float]:
        started = time.perf_counter()
        try:
            # redis-py types the call for its sync and async clients at once; this one is async.
            value = await cast("Awaitable[bytes | None]", client.hget(key, "data"))
        except RedisError as exc:
            raise ProbeError(str(exc)) from exc
        elapsed = time.perf_counter() - started
        if value is None:
            raise ProbeError(f"redis: no field 'data' in {key!r}")
        return {"e Redis HGET": elapsed}

    return probe, client.aclose


async def _measure_sidecar(
    stack: RunningStack, profile: profiles.Profile, args: argparse.Namespace, out: IO[str]
) -> tuple[list[Measure], Measured]:
    method = f"v1.0/invoke/catalog/method/products/{PRODUCT_ID}"
    # Each request carries the token its caller would: the app token is what daprd sends the
    # app, the API token what an app sends its own daprd.
    requests = {
        "a app direct": (
            f"{stack.app_url('catalog')}/products/{PRODUCT_ID}",
            stack.app_headers("catalog"),
        ),
        "b own sidecar": (f"{stack.dapr_url('catalog')}/{method}", stack.dapr_headers("catalog")),
        "c web's sidecar": (f"{stack.dapr_url('web')}/{method}", stack.dapr_headers("web")),
        "d state API": (
            f"{stack.dapr_url('catalog')}/v1.0/state/statestore/product:{PRODUCT_ID}",
            stack.dapr_headers("catalog"),
        ),
    }
    limits = httpx.Limits(max_connections=4 * args.concurrency + 4)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as client:
        steps = [
            Step(name, _timed_get(client, name, url, headers), (name,))
            for name, (url, headers) in requests.items()
        ]
        close: Callable[[], Awaitable[None]] | None = None
        if profile.state == "redis":
            # Dapr's Redis store keeps `<app id>||<key>` as a hash with the value in `data`.
            probe, close = _redis_probe(stack.infra_port("redis"), f"catalog||product:{PRODUCT_ID}")
            steps.append(Step("e Redis HGET", probe, ("e Redis HGET",)))
        try:
            workers = [steps] * args.concurrency
            measured = await interleave(workers, _budget(args), args.warmup, out)
        finally:
            if close is not None:
                await close()
    return sidecar_measures(close is not None), measured


def bench_sidecar(args: argparse.Namespace, out: IO[str]) -> Report:
    profile = profiles.from_env(args.profile)
    settings = _settings(args) | {"profile": profile.label}
    context_start = _machine()
    out.write(f"[bench] sidecar: starting web and catalog on profile {profile.label} ...\n")
    out.flush()
    started = time.monotonic()
    with running_stack(
        RUN_FILE,
        _fresh_dir("sidecar"),
        apps={"web", "catalog"},
        profile=profile.label,
        api_tokens=True,
    ) as stack:
        out.write(f"[bench] stack healthy in {time.monotonic() - started:.0f}s\n")
        measures, measured = asyncio.run(_measure_sidecar(stack, profile, args, out))
    caveats = failure_lines(measured)
    if profile.state != "redis":
        caveats.append(f"no Redis row: the state store of profile {profile.label} is not Redis")
    return Report(
        benchmark="sidecar",
        context=[
            f"bench sidecar: GET one product ({PRODUCT_ID}) of catalog, profile {profile.label}, "
            f"{measured.rounds} rounds in {measured.seconds:.0f}s, concurrency {args.concurrency}, "
            f"{_rounds(args.warmup)} of warm-up per worker, API tokens on (as `sidecart run`)",
            "  a: the catalog app's port; b: catalog's daprd (/v1.0/invoke/catalog/method/...); "
            "c: web's daprd, which invokes catalog's (two sidecars);",
            "  d: catalog's daprd state API, the product's key; e: the same key straight from "
            "Redis (HGET)",
            f"{context_start} (at start)",
            f"{_machine()} (at end)",
        ],
        rows=summarize(measures, measured.samples, measured.errors),
        first_column="path",
        caveats=caveats,
        settings=settings,
    )


# --- checkout: end to end, per profile ----------------------------------------------------------


def checkout_form() -> dict[str, str]:
    return {
        "email": "bench@example.com",
        "street_address": "1 Analytical Way",
        "zip_code": "N1 9GU",
        "city": "London",
        "state": "London",
        "country": "United Kingdom",
        "credit_card_number": GOOD_CARD,
        "credit_card_expiration_month": "12",
        "credit_card_expiration_year": "2030",
        "credit_card_cvv": "123",
    }


def _checkout_probe(
    label: str, stack: RunningStack, product_id: str, client: httpx.AsyncClient
) -> Probe:
    """Add one item as a new shopper (not timed), then time the checkout from the form's POST
    until ordering says Confirmed; `placed` is the POST alone (tokenize + place the order)."""
    web = stack.app_url("web")
    ordering = stack.app_url("ordering")
    as_daprd = stack.app_headers("ordering")

    async def probe() -> dict[str, float]:
        client.cookies.clear()  # a new shopper, so every checkout starts with one fresh cart
        _expect(
            await client.post(f"{web}/cart", data={"product_id": product_id, "quantity": "1"}),
            303,
        )
        started = time.perf_counter()
        response = _expect(await client.post(f"{web}/cart/checkout", data=checkout_form()), 303)
        placed = time.perf_counter() - started
        order_id = unquote(response.headers["location"].removeprefix("/order/"))
        while True:
            status = await client.get(f"{ordering}/orders/{order_id}", headers=as_daprd)
            order = _expect(status, 200).json()
            if order["status"] == "Confirmed":
                return {
                    f"{label}: confirmed": time.perf_counter() - started,
                    f"{label}: placed": placed,
                }
            if order["status"] == "Cancelled":
                raise ProbeError(f"order {order_id} cancelled: {order.get('cancel_reason')}")
            if time.perf_counter() - started > CHECKOUT_TIMEOUT:
                raise ProbeError(f"order {order_id} still {order['status']} after 60 s")
            await asyncio.sleep(POLL_SECONDS)

    return probe


def _prepare_stock(stack: RunningStack, count: int) -> list[str]:
    """`count` products (one per worker, so concurrent checkouts do not fight over one stock
    record's ETag) with stock that no run can exhaust."""
    catalog = httpx.Client(
        base_url=stack.app_url("catalog"), headers=stack.app_headers("catalog"), timeout=30.0
    )
    with catalog:
        page = _retrying(partial(catalog.get, "/products", params={"page_size": 100}))
        ids = [item["id"] for item in page.json()["items"]][: max(count, 1)]
        for product_id in ids:
            body = _retrying(partial(catalog.get, f"/products/{product_id}")).json()
            body["stock"] = MAX_STOCK
            _retrying(partial(catalog.put, f"/products/{product_id}", json=body))
    return ids


def _retrying(call: Callable[[], httpx.Response], seconds: float = SETUP_SECONDS) -> httpx.Response:
    """A setup request, retried while a fresh stack settles: on a new Kafka broker the first
    publish to a topic can fail until the broker has created it (catalog answers 503)."""
    retrying = Retrying(
        stop=stop_after_delay(seconds),
        wait=wait_fixed(1.0),
        retry=retry_if_exception_type((ProbeError, httpx.HTTPError)),
        reraise=True,
    )
    try:
        return retrying(lambda: _expect(call(), 200))
    except (ProbeError, httpx.HTTPError) as exc:
        raise SidecartError(f"bench: setting up the stack failed: {exc}") from exc


def checkout_measures(labels: Sequence[str]) -> list[Measure]:
    """End to end first, then the synchronous part; each against the first profile's row."""
    return [
        Measure(f"{label}: {part}", f"{labels[0]}: {part}")
        for part in ("confirmed", "placed")
        for label in labels
    ]


async def _run_checkouts(
    targets: Sequence[tuple[str, RunningStack, list[str]]],
    args: argparse.Namespace,
    out: IO[str],
) -> Measured:
    # A client per worker and stack: each worker's shopper cookie is its own.
    clients = [
        [httpx.AsyncClient(timeout=30.0, follow_redirects=False) for _ in targets]
        for _ in range(args.concurrency)
    ]
    try:
        workers = [
            [
                Step(
                    label,
                    _checkout_probe(label, stack, products[w % len(products)], clients[w][t]),
                    (f"{label}: confirmed", f"{label}: placed"),
                )
                for t, (label, stack, products) in enumerate(targets)
            ]
            for w in range(args.concurrency)
        ]
        return await interleave(workers, _budget(args), args.warmup, out)
    finally:
        for client in itertools.chain.from_iterable(clients):
            await client.aclose()


@contextmanager
def _shop(profile: profiles.Profile, out: IO[str]) -> Iterator[RunningStack]:
    out.write(f"[bench] checkout: starting the shop on profile {profile.label} ...\n")
    out.flush()
    started = time.monotonic()
    folder = _fresh_dir(f"checkout-{profile.label.replace(',', '-').replace('=', '-')}")
    with running_stack(
        RUN_FILE, folder, apps=set(SHOP_APPS), profile=profile.label, api_tokens=True
    ) as stack:
        out.write(f"[bench] {profile.label}: healthy in {time.monotonic() - started:.0f}s\n")
        out.flush()
        yield stack


def bench_checkout(args: argparse.Namespace, out: IO[str]) -> Report:
    chosen = [profiles.parse(word) for word in args.profiles.split()]
    labels = [p.label for p in chosen]
    if not chosen or len(set(labels)) != len(labels):
        raise SidecartError(f"bench checkout: --profiles {args.profiles!r}: give distinct profiles")
    for profile in chosen:
        refused = profile.not_runnable()
        if refused is not None:
            raise SidecartError(refused)
        if not args.no_bootstrap:
            profile_install.bootstrap(profile)
    available = psutil.virtual_memory().available
    at_once, needed = fits_at_once(chosen, available)
    caveats = []
    if len(chosen) > 1 and not at_once:
        caveats.append(
            f"the {len(chosen)} stacks ran one after another, not side by side: "
            f"{available / GIB:.1f} GiB available, about {needed:.1f} GiB needed plus "
            f"{RESERVE_GIB:.0f} GiB kept free; no ratio is printed, since rounds measured in "
            "different minutes of a noisy machine are not paired"
        )
    elif len(chosen) > 1 and args.sequential:
        at_once = False
        caveats.append(
            "--sequential: the stacks ran one after another; no ratio is printed, since rounds "
            "measured in different minutes of a noisy machine are not paired"
        )
    settings = _settings(args) | {"profiles": labels, "side_by_side": at_once}
    context_start = _machine()
    memory: dict[str, float] = {}
    if at_once:
        with ExitStack() as running:
            targets = []
            for profile in chosen:
                stack = running.enter_context(_shop(profile, out))
                targets.append((profile.label, stack, _prepare_stock(stack, args.concurrency)))
            memory = {label: _stack_rss_gib(stack) for label, stack, _ in targets}
            measured = asyncio.run(_run_checkouts(targets, args, out))
    else:
        measured = Measured()
        for profile in chosen:
            with _shop(profile, out) as stack:
                target = (profile.label, stack, _prepare_stock(stack, args.concurrency))
                memory[profile.label] = _stack_rss_gib(stack)
                part = asyncio.run(_run_checkouts([target], args, out))
            measured.merge(part)
    rows = summarize(checkout_measures(labels), measured.samples, measured.errors)
    caveats += failure_lines(measured)
    rss = ", ".join(f"{label} {gib:.1f} GiB" for label, gib in memory.items())
    mode = "side by side, round-robin" if at_once else "one after another"
    return Report(
        benchmark="checkout",
        context=[
            f"bench checkout: POST /cart/checkout on web until ordering says Confirmed "
            f"(polled every {POLL_SECONDS * 1000:.0f} ms), profiles {', '.join(labels)} {mode}, "
            f"{measured.rounds} rounds in {measured.seconds:.0f}s, concurrency "
            f"{args.concurrency}, {_rounds(args.warmup)} of warm-up per worker, API tokens on "
            "(as `sidecart run`)",
            "  confirmed: the form's POST until Confirmed; placed: the POST alone (web tokenizes "
            "the card at payment and places the order at ordering)",
            f"stacks' memory (RSS): {rss}",
            f"{context_start} (at start)",
            f"{_machine()} (at end)",
        ],
        rows=rows,
        first_column="profile: measure",
        caveats=caveats,
        settings=settings,
    )


# --- command line -------------------------------------------------------------------------------


def _budget(args: argparse.Namespace) -> Budget:
    if args.requests is not None:
        return Budget(requests=args.requests)
    return Budget(seconds=args.seconds)


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "seconds": None if args.requests is not None else args.seconds,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "warmup_rounds": args.warmup,
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _rounds(count: int) -> str:
    return f"{count} round" if count == 1 else f"{count} rounds"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _common_options(parser: argparse.ArgumentParser, seconds: float, warmup: int) -> None:
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--seconds",
        type=float,
        default=seconds,
        help=f"measuring time after the warm-up (default {seconds:g}; per profile when the "
        "stacks run one after another)",
    )
    budget.add_argument(
        "--requests", type=_positive, help="measured requests per path instead of --seconds"
    )
    parser.add_argument(
        "--concurrency",
        type=_positive,
        default=1,
        help="requests in flight at once, each worker round-robin (default 1)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=warmup,
        help=f"warm-up rounds per worker, not recorded (default {warmup})",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "bench", help="side-by-side latency benchmarks (not tests): sidecar, checkout"
    )
    kinds = parser.add_subparsers(dest="benchmark", required=True)
    sidecar = kinds.add_parser(
        "sidecar", help="a catalog read: direct, through one sidecar, through two"
    )
    _common_options(sidecar, seconds=30.0, warmup=100)
    sidecar.add_argument(
        "--profile",
        default=None,
        help=f"infrastructure profile (default: ${profiles.ENV_VAR}, else redis)",
    )
    checkout = kinds.add_parser("checkout", help="end-to-end checkout latency per profile")
    _common_options(checkout, seconds=120.0, warmup=2)
    checkout.add_argument(
        "--profiles",
        default="redis kafka postgres",
        help='space-separated profiles, the first is the baseline (default "redis kafka postgres")',
    )
    checkout.add_argument(
        "--sequential",
        action="store_true",
        help="run the profiles' stacks one after another even if memory allows them at once",
    )
    checkout.add_argument(
        "--no-bootstrap", action="store_true", help="do not install missing infrastructure"
    )


def _interrupted(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def cmd_bench(args: argparse.Namespace) -> int:
    # SIGTERM unwinds like Ctrl-C, so the stacks' teardown runs and no process is left behind.
    signal.signal(signal.SIGTERM, _interrupted)
    progress = sys.stderr
    run = bench_sidecar if args.benchmark == "sidecar" else bench_checkout
    report = run(args, progress)
    sys.stdout.write("\n" + report.text() + "\n")
    sys.stdout.flush()
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_json(), indent=2) + "\n", encoding="utf-8")
        progress.write(f"[bench] results written to {args.json}\n")
    return 0
