"""Test harness: the real stack (infrastructure, daprd sidecars, apps) on free loopback ports.

Used by Sidecart's own integration tests and meant for the tests of services built on it:

    with running_stack(run_file, apps={"web", "catalog"}, tmp=tmp_path) as stack:
        httpx.get(stack.app_url("web"))

Teardown always runs (failure, Ctrl-C, an exception in start-up), and a process-exit hook stops
any stack a crashed test run left behind. `LogWindow` gives each test the log lines it caused.

A stack runs as `sidecart run` runs it, with a fresh pair of Dapr API tokens per app: a test calls
a sidecar's API with `headers=stack.dapr_headers(id)` (that sidecar's own app id) and an app's
port directly with `headers=stack.app_headers(id)`, as its daprd does. `api_tokens=False` runs
without any token, in either direction, as the Dapr CLI would.
"""

from __future__ import annotations

import atexit
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sidecart.errors import SidecartError
from sidecart.launcher import Stack, StackOptions
from sidecart.profiles import ENV_VAR as PROFILE_ENV
from sidecart.service.settings import API_TOKEN_HEADER

_live: list[Stack] = []


def _stop_leftovers() -> None:
    for stack in list(_live):
        stack.stop()


atexit.register(_stop_leftovers)


@dataclass
class RunningStack:
    stack: Stack
    log_dir: Path

    def app_url(self, app_id: str) -> str:
        return f"http://127.0.0.1:{self.stack.ports[app_id].app}"

    def dapr_url(self, app_id: str) -> str:
        return f"http://127.0.0.1:{self.stack.ports[app_id].http}"

    def dapr_headers(self, app_id: str) -> dict[str, str]:
        """What the app sends its sidecar's API (its DAPR_API_TOKEN); none when tokens are off."""
        tokens = self.stack.tokens.get(app_id)
        return {} if tokens is None else {API_TOKEN_HEADER: tokens.api}

    def app_headers(self, app_id: str) -> dict[str, str]:
        """What the sidecar sends its app (its APP_API_TOKEN); none when tokens are off."""
        tokens = self.stack.tokens.get(app_id)
        return {} if tokens is None else {API_TOKEN_HEADER: tokens.app}

    def app_log_records(self, app_id: str) -> list[dict[str, Any]]:
        """The JSON lines an app has logged so far (non-JSON lines, such as tracebacks, skipped)."""
        text = (self.log_dir / f"{app_id}_app.log").read_text(encoding="utf-8", errors="replace")
        records = []
        for line in text.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def infra_port(self, name: str) -> int:
        return self.stack.infra_ports[name]

    @property
    def data_dir(self) -> Path:
        """The stack's data folder; each server's data is in a sub-folder named after it."""
        return self.stack.options.data_dir

    @property
    def zipkin_url(self) -> str:
        return f"http://127.0.0.1:{self.infra_port('zipkin')}"

    @property
    def prometheus_url(self) -> str:
        """Only with `running_stack(..., observability=True)`."""
        return f"http://127.0.0.1:{self.infra_port('prometheus')}"

    @property
    def log_store_url(self) -> str:
        """VictoriaLogs; only with `running_stack(..., observability=True)`."""
        return f"http://127.0.0.1:{self.infra_port('victoria-logs')}"


@contextmanager
def running_stack(
    run_file: Path,
    tmp: Path,
    apps: Iterable[str] | None = None,
    env: dict[str, str] | None = None,
    observability: bool = False,
    profile: str | None = None,
    api_tokens: bool = True,
) -> Iterator[RunningStack]:
    """`profile` (e.g. "kafka,postgres") defaults to $SIDECART_PROFILE, else the run file's.

    `api_tokens` (on, as `sidecart run`): a fresh pair of Dapr API tokens per app (and per start
    attempt); daprd then refuses a call without `stack.dapr_headers(id)`, and an app built on
    `sidecart.service` one without `stack.app_headers(id)`. Off: no token at all."""
    options = StackOptions(
        run_file=run_file,
        log_dir=tmp / "logs",
        data_dir=tmp / "data",
        only_apps=apps,
        free_ports=True,
        extra_env=env or {},
        observability=observability,
        profile=profile if profile is not None else os.environ.get(PROFILE_ENV) or None,
        api_tokens=api_tokens,
    )
    stack = _start_with_fresh_ports(options)
    try:
        yield RunningStack(stack, options.log_dir)
    finally:
        stack.stop()
        _live.remove(stack)


# A free port is only free until someone binds it: another test run on the machine can take one
# between the harness picking it and daprd or a server binding it. Those starts are retried with
# new ports; any other failure is the test's to report.
_LOST_PORT_RACE = ("address already in use", "could not listen", "failed to bind")
_START_ATTEMPTS = 3


def _start_with_fresh_ports(options: StackOptions) -> Stack:
    attempt = 1
    while True:
        stack = Stack(options)
        _live.append(stack)
        try:
            stack.start()
        except SidecartError:
            _live.remove(stack)
            if attempt >= _START_ATTEMPTS or not _lost_port_race(stack):
                raise
            attempt += 1
        else:
            return stack


def _lost_port_race(stack: Stack) -> bool:
    """Whether a process of the failed start said it could not bind its port."""
    return any(
        marker in line.lower()
        for proc in stack.processes
        for line in proc.tail(40)
        for marker in _LOST_PORT_RACE
    )


T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30.0, interval: float = 0.3) -> T:
    """Retry `check` until it stops raising AssertionError; its last failure after `timeout`.

    Pub/sub is asynchronous: a test states the outcome it expects and waits for it, bounded.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(interval)


@dataclass
class LogWindow:
    """Remembers where each log file ended, to show only what was written afterwards."""

    log_dir: Path
    offsets: dict[Path, int] = field(default_factory=dict)

    def mark(self) -> None:
        self.offsets = {p: p.stat().st_size for p in self.log_dir.glob("*.log")}

    def since_mark(self, max_lines: int = 60) -> str:
        chunks = []
        for path in sorted(self.log_dir.glob("*.log")):
            with path.open("rb") as handle:
                handle.seek(self.offsets.get(path, 0))
                lines = handle.read().decode("utf-8", errors="replace").splitlines()
            if lines:
                shown = lines[-max_lines:]
                chunks.append(f"----- {path.name} (last {len(shown)} of {len(lines)} new lines)")
                chunks.extend(shown)
        return "\n".join(chunks) or "(no log lines)"
