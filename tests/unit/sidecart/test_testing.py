import time
from pathlib import Path

import pytest

from sidecart import testing
from sidecart.launcher import AppTokens, Stack, StackOptions
from sidecart.procs import ManagedProcess
from sidecart.testing import RunningStack, _lost_port_race, eventually, running_stack


def finished_process(tmp_path: Path, output: str) -> ManagedProcess:
    proc = ManagedProcess("daprd", ["sh", "-c", f"echo '{output}'"], tmp_path / "p.log")
    proc.start()

    def printed() -> None:
        assert proc.tail()

    eventually(printed, timeout=5)
    proc.stop()
    return proc


def stack_with(tmp_path: Path, proc: ManagedProcess) -> Stack:
    stack = Stack(
        StackOptions(run_file=tmp_path / "dapr.yaml", log_dir=tmp_path, data_dir=tmp_path)
    )
    stack.processes.append(proc)
    return stack


def test_a_start_that_lost_a_port_to_another_process_is_recognised(tmp_path: Path) -> None:
    line = "failed to start API gRPC server: could not listen on 127.0.0.1:41234"
    assert _lost_port_race(stack_with(tmp_path, finished_process(tmp_path, line)))


def test_any_other_start_failure_is_not_taken_for_a_port_race(tmp_path: Path) -> None:
    line = "error loading component statestore: connection refused"
    assert not _lost_port_race(stack_with(tmp_path, finished_process(tmp_path, line)))


def test_eventually_returns_the_first_passing_result() -> None:
    started = time.monotonic()

    def settles() -> float:
        assert time.monotonic() - started > 0.2
        return 42.0

    assert eventually(settles, timeout=5, interval=0.05) == 42.0


def test_a_test_calls_a_sidecar_and_an_app_with_that_apps_own_tokens(tmp_path: Path) -> None:
    stack = Stack(
        StackOptions(run_file=tmp_path / "dapr.yaml", log_dir=tmp_path, data_dir=tmp_path)
    )
    stack.tokens["catalog"] = AppTokens(api="api-token-of-catalog", app="app-token-of-catalog")
    running = RunningStack(stack, tmp_path)
    assert running.dapr_headers("catalog") == {"dapr-api-token": "api-token-of-catalog"}
    assert running.app_headers("catalog") == {"dapr-api-token": "app-token-of-catalog"}


def test_with_tokens_off_a_test_sends_no_token_header(tmp_path: Path) -> None:
    stack = Stack(
        StackOptions(run_file=tmp_path / "dapr.yaml", log_dir=tmp_path, data_dir=tmp_path)
    )
    running = RunningStack(stack, tmp_path)
    assert running.dapr_headers("catalog") == {}
    assert running.app_headers("catalog") == {}


def recorded_starts(monkeypatch: pytest.MonkeyPatch) -> list[StackOptions]:
    """The options of each stack `running_stack` starts from now on; none really starts."""
    started: list[StackOptions] = []

    def start(options: StackOptions) -> Stack:
        started.append(options)
        stack = Stack(options)
        testing._live.append(stack)
        return stack

    monkeypatch.setattr(testing, "_start_with_fresh_ports", start)
    return started


def test_the_harness_runs_a_stack_with_api_tokens_as_sidecart_run_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started = recorded_starts(monkeypatch)
    with running_stack(tmp_path / "dapr.yaml", tmp_path):
        pass
    assert [options.api_tokens for options in started] == [True]


def test_a_test_may_still_turn_the_tokens_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started = recorded_starts(monkeypatch)
    with running_stack(tmp_path / "dapr.yaml", tmp_path, api_tokens=False):
        pass
    assert [options.api_tokens for options in started] == [False]
