import time
from pathlib import Path

from sidecart.launcher import AppTokens, Stack, StackOptions
from sidecart.procs import ManagedProcess
from sidecart.testing import RunningStack, _lost_port_race, eventually


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
