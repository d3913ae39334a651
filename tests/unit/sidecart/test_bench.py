"""`sidecart bench`: the statistics, the interleaving and the table, without any stack."""

from __future__ import annotations

import io
import random
import statistics

import httpx
import pytest

from sidecart import bench, profiles
from sidecart.cli import build_parser
from sidecart.errors import SidecartError

# --- percentiles --------------------------------------------------------------------------------


def test_the_50th_percentile_is_the_median_and_others_interpolate_between_ranks() -> None:
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert bench.percentile(values, 50) == statistics.median(values) == 3.0
    assert bench.percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert bench.percentile(values, 0) == 1.0
    assert bench.percentile(values, 100) == 5.0
    assert bench.percentile([10.0, 20.0], 95) == pytest.approx(19.5)
    assert bench.percentile([7.0], 95) == 7.0


def test_a_percentile_of_nothing_or_outside_0_to_100_is_refused() -> None:
    with pytest.raises(ValueError, match="no values"):
        bench.percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        bench.percentile([1.0], 101)


# --- interleaving -------------------------------------------------------------------------------


def test_each_round_runs_every_alternative_once_starting_one_further_each_round() -> None:
    order = [bench.rotation("ABC", r) for r in range(4)]
    assert order == [list("ABC"), list("BCA"), list("CAB"), list("ABC")]
    assert bench.rotation([], 3) == []


def test_over_as_many_rounds_as_alternatives_each_takes_every_position_once() -> None:
    alternatives = ["a", "b", "c", "d"]
    rounds = [bench.rotation(alternatives, r) for r in range(len(alternatives))]
    for position in range(len(alternatives)):
        assert sorted(r[position] for r in rounds) == alternatives


def test_slices_are_consecutive_and_cover_every_round_once() -> None:
    parts = bench.slices(list(range(25)), 10)
    assert len(parts) == 10
    assert [r for part in parts for r in part] == list(range(25))
    assert {len(part) for part in parts} == {2, 3}
    assert bench.slices([1, 2, 3], 10) == [[1], [2], [3]]


def _step(name: str, calls: list[str], seconds: float = 0.001) -> bench.Step:
    async def probe() -> dict[str, float]:
        calls.append(name)
        return {name: seconds}

    return bench.Step(name, probe, (name,))


async def test_warm_up_rounds_run_first_and_are_not_recorded() -> None:
    calls: list[str] = []
    steps = [_step("a", calls), _step("b", calls)]
    measured = await bench.interleave([steps], bench.Budget(requests=3), 2, io.StringIO())
    warm_up, measured_calls = calls[:4], calls[4:]
    assert warm_up == ["a", "b", "b", "a"]
    assert measured_calls == ["a", "b", "b", "a", "a", "b"]
    assert measured.rounds == 3
    assert sorted((s.round, s.measure) for s in measured.samples) == [
        (0, "a"),
        (0, "b"),
        (1, "a"),
        (1, "b"),
        (2, "a"),
        (2, "b"),
    ]


async def test_concurrent_workers_number_rounds_from_one_counter_and_stop_on_the_budget() -> None:
    calls: list[str] = []
    steps = [_step("a", calls), _step("b", calls)]
    measured = await bench.interleave([steps] * 3, bench.Budget(requests=7), 0, io.StringIO())
    assert sorted({s.round for s in measured.samples}) == list(range(7))
    assert len(measured.samples) == 14


async def test_a_time_budget_ends_after_complete_rounds() -> None:
    calls: list[str] = []
    steps = [_step("a", calls), _step("b", calls), _step("c", calls)]
    measured = await bench.interleave([steps], bench.Budget(seconds=0.0), 0, io.StringIO())
    assert measured.rounds == 0 and measured.samples == []
    measured = await bench.interleave([steps], bench.Budget(seconds=0.05), 0, io.StringIO())
    assert measured.rounds >= 1
    assert len(measured.samples) == 3 * measured.rounds


async def test_a_failing_request_is_counted_per_measure_and_the_run_goes_on() -> None:
    calls: list[str] = []
    attempts = 0

    async def flaky() -> dict[str, float]:
        nonlocal attempts
        attempts += 1
        if attempts % 2:
            raise bench.ProbeError("HTTP 503")
        return {"x: confirmed": 1.0, "x: placed": 0.1}

    steps = [_step("a", calls), bench.Step("x", flaky, ("x: confirmed", "x: placed"))]
    measured = await bench.interleave([steps], bench.Budget(requests=4), 0, io.StringIO())
    assert measured.errors == {"x: confirmed": 2, "x: placed": 2}
    assert measured.failed == {"x": 2}
    assert len([s for s in measured.samples if s.measure == "x: placed"]) == 2
    assert bench.failure_lines(measured) == [
        "x: 2 requests failed, the last with ProbeError: HTTP 503"
    ]


async def test_when_every_warm_up_request_of_a_path_fails_the_benchmark_stops_naming_it() -> None:
    async def down() -> dict[str, float]:
        raise bench.ProbeError("connection refused")

    steps = [_step("a", []), bench.Step("b", down, ("b",))]
    with pytest.raises(SidecartError, match=r"'b' failed: ProbeError: connection refused"):
        await bench.interleave([steps], bench.Budget(requests=1), 2, io.StringIO())


def test_runs_measured_apart_are_merged_with_rounds_numbered_after_each_other() -> None:
    first = bench.Measured(samples=[bench.Sample("a", 0, 1.0), bench.Sample("a", 1, 1.0)])
    first.rounds = 2
    second = bench.Measured(samples=[bench.Sample("b", 0, 2.0)], errors={"b": 1}, rounds=1)
    total = bench.Measured()
    total.merge(first)
    total.merge(second)
    assert [(s.measure, s.round) for s in total.samples] == [("a", 0), ("a", 1), ("b", 2)]
    assert total.rounds == 3 and total.errors == {"b": 1}


# --- ratios -------------------------------------------------------------------------------------


def _samples(rounds: int, base: float, factor: float, drift: float = 0.0) -> list[bench.Sample]:
    """Per round: `base` for the baseline, `factor` times it for the other; both slow down by
    `drift` per round, as a machine getting busier would make them."""
    out = []
    for r in range(rounds):
        slow = base * (1 + drift * r)
        out += [bench.Sample("base", r, slow), bench.Sample("other", r, slow * factor)]
    return out


def test_a_path_twice_as_slow_in_every_round_has_ratio_two_with_a_tight_interval() -> None:
    (_, row) = bench.summarize(
        [bench.Measure("base"), bench.Measure("other", "base")], _samples(40, 0.002, 2.0), {}
    )
    assert row.ratio is not None
    assert row.ratio.p50 == pytest.approx(2.0)
    assert row.ratio.p95 == pytest.approx(2.0)
    assert row.ratio.ci_low == pytest.approx(2.0)
    assert row.ratio.ci_high == pytest.approx(2.0)
    assert row.ratio.slice_min == pytest.approx(2.0)
    assert row.ratio.slice_max == pytest.approx(2.0)
    assert row.ratio.rounds == 40


def test_a_slow_spell_that_hits_both_paths_does_not_move_the_per_slice_ratio() -> None:
    samples = _samples(100, 0.001, 1.5, drift=0.05)
    (_, row) = bench.summarize([bench.Measure("base"), bench.Measure("other", "base")], samples, {})
    assert row.ratio is not None
    assert row.ratio.slice_min == pytest.approx(1.5)
    assert row.ratio.slice_max == pytest.approx(1.5)
    assert row.p50 is not None and row.p95 is not None and row.p95 > 1.5 * row.p50


def test_noise_widens_the_interval_around_the_ratio_and_a_seed_makes_it_repeatable() -> None:
    rng = random.Random(7)
    samples = []
    for r in range(200):
        samples += [
            bench.Sample("base", r, rng.uniform(0.8, 1.2)),
            bench.Sample("other", r, 1.3 * rng.uniform(0.8, 1.2)),
        ]
    measures = [bench.Measure("base"), bench.Measure("other", "base")]
    (_, row) = bench.summarize(measures, samples, {})
    assert row.ratio is not None
    assert row.ratio.ci_low < row.ratio.p50 < row.ratio.ci_high
    assert row.ratio.ci_low > 1.15 and row.ratio.ci_high < 1.45
    assert row.ratio.slice_min <= row.ratio.p50 <= row.ratio.slice_max
    assert bench.summarize(measures, samples, {}) == bench.summarize(measures, samples, {})


def test_rounds_where_either_side_failed_are_left_out_of_the_ratio() -> None:
    samples = [
        bench.Sample("base", 0, 1.0),
        bench.Sample("other", 0, 3.0),
        bench.Sample("base", 1, 100.0),  # its pair failed: no ratio from this round
        bench.Sample("other", 2, 100.0),  # and this one's baseline failed
    ]
    (base, other) = bench.summarize(
        [bench.Measure("base"), bench.Measure("other", "base")], samples, {"other": 1}
    )
    assert other.ratio is not None
    assert other.ratio.p50 == 3.0 and other.ratio.rounds == 1
    assert (base.n, other.n, other.errors) == (2, 2, 1)


def test_a_baseline_row_has_no_ratio_and_a_row_without_samples_has_no_times() -> None:
    rows = bench.summarize(
        [bench.Measure("base", "base"), bench.Measure("down", "base")],
        [bench.Sample("base", 0, 0.001)],
        {"down": 5},
    )
    assert rows[0].ratio is None and rows[0].baseline is None
    assert (rows[1].n, rows[1].errors, rows[1].p50, rows[1].ratio) == (0, 5, None, None)


def test_checkout_rows_compare_every_profile_with_the_first_end_to_end_then_placed() -> None:
    measures = bench.checkout_measures(["redis", "kafka", "postgres"])
    assert [(m.name, m.baseline) for m in measures] == [
        ("redis: confirmed", "redis: confirmed"),
        ("kafka: confirmed", "redis: confirmed"),
        ("postgres: confirmed", "redis: confirmed"),
        ("redis: placed", "redis: placed"),
        ("kafka: placed", "redis: placed"),
        ("postgres: placed", "redis: placed"),
    ]


def test_sidecar_rows_compare_both_invocations_with_the_app_and_the_state_api_with_redis() -> None:
    assert [(m.name, m.baseline) for m in bench.sidecar_measures(with_redis=True)] == [
        ("a app direct", None),
        ("b own sidecar", "a app direct"),
        ("c web's sidecar", "a app direct"),
        ("d state API", "e Redis HGET"),
        ("e Redis HGET", None),
    ]
    assert bench.sidecar_measures(with_redis=False)[-1] == bench.Measure("d state API")


# --- the table ----------------------------------------------------------------------------------


def test_milliseconds_keep_about_three_significant_digits() -> None:
    assert bench.milliseconds(0.000842) == "0.84"
    assert bench.milliseconds(0.01234) == "12.3"
    assert bench.milliseconds(1.2346) == "1235"
    assert bench.milliseconds(None) == "-"


def test_the_table_shows_times_ratios_and_spread_with_numbers_aligned_right() -> None:
    names = {"base": "a app direct", "other": "b own sidecar"}
    samples = [
        bench.Sample(names[s.measure], s.round, s.seconds) for s in _samples(20, 0.002, 1.25)
    ]
    rows = bench.summarize(
        [bench.Measure("a app direct"), bench.Measure("b own sidecar", "a app direct")], samples, {}
    )
    lines = bench.table(rows).splitlines()
    assert lines[0].split()[:3] == ["path", "n", "errors"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2].split() == ["a", "app", "direct", "20", "0", "2.00", "2.00"] + ["-"] * 5
    assert lines[3].split() == [
        "b",
        "own",
        "sidecar",
        "20",
        "0",
        "2.50",
        "2.50",
        "a",
        "app",
        "direct",
        "1.25x",
        "1.25x",
        "1.25-1.25",
        "1.25-1.25",
    ]
    # Right-aligned numbers: every column ends where its header ends.
    n_end = lines[0].index(" n ") + 2
    assert lines[2][n_end - 2 : n_end] == "20" and lines[3][n_end - 2 : n_end] == "20"


def test_the_report_says_what_the_ratios_mean_and_lists_caveats() -> None:
    report = bench.Report(
        benchmark="checkout",
        context=["bench checkout: ..."],
        rows=[],
        first_column="profile: measure",
        caveats=["the 3 stacks ran one after another"],
    )
    text = report.text()
    assert text.splitlines()[0] == "bench checkout: ..."
    assert "profile: measure" in text
    assert "1.00x: no difference" in text
    assert text.splitlines()[-1] == "caveat: the 3 stacks ran one after another"
    assert report.as_json()["caveats"] == ["the 3 stacks ran one after another"]


# --- stacks side by side, and the command line --------------------------------------------------


def test_stacks_run_side_by_side_only_with_memory_to_spare_for_everyone_else() -> None:
    chosen = [profiles.parse("redis"), profiles.parse("kafka"), profiles.parse("postgres")]
    needed = 3 * bench.STACK_GIB + bench.JVM_BROKER_GIB
    assert bench.fits_at_once(chosen, int(24 * bench.GIB)) == (True, needed)
    assert bench.fits_at_once(chosen, int((needed + bench.RESERVE_GIB - 0.1) * bench.GIB)) == (
        False,
        needed,
    )


def test_the_bench_command_takes_seconds_or_requests_never_both() -> None:
    args = build_parser().parse_args(["bench", "sidecar", "--requests", "500"])
    assert (args.benchmark, args.requests, args.concurrency) == ("sidecar", 500, 1)
    assert bench._budget(args) == bench.Budget(requests=500)
    args = build_parser().parse_args(["bench", "checkout", "--seconds", "10"])
    assert args.profiles == "redis kafka postgres"
    assert bench._budget(args) == bench.Budget(seconds=10.0)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "sidecar", "--seconds", "5", "--requests", "9"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "sidecar", "--concurrency", "0"])


def test_checkout_refuses_a_profile_given_twice_before_starting_anything() -> None:
    args = build_parser().parse_args(["bench", "checkout", "--profiles", "redis redis"])
    with pytest.raises(SidecartError, match="distinct profiles"):
        bench.bench_checkout(args, io.StringIO())


def test_a_setup_request_that_keeps_failing_ends_in_one_line_not_a_traceback() -> None:
    request = httpx.Request("PUT", "http://127.0.0.1:1/products/X")

    def unavailable() -> httpx.Response:
        return httpx.Response(503, text="try again shortly", request=request)

    def fine() -> httpx.Response:
        return httpx.Response(200, json={}, request=request)

    assert bench._retrying(fine, seconds=0).status_code == 200
    with pytest.raises(SidecartError, match=r"setting up the stack failed: .*HTTP 503"):
        bench._retrying(unavailable, seconds=0)
