"""Process control: each child in its own process group, logs pumped to a file and the terminal.

Every process is started with `start_new_session=True` so that stopping it stops everything it
spawned (uvicorn's workers, the JVM's helpers) by process group, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import psutil

from sidecart.errors import SidecartError

_COLOURS = ("36", "33", "35", "32", "34", "31", "96", "93", "95", "92")


@dataclass
class ManagedProcess:
    """One child process with a name, a log file and an optional terminal prefix."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    echo: IO[str] | None = None
    colour: int = 0
    # Called with every output line (the central log shipper); must not block.
    on_line: Callable[[str], None] | None = None
    # Lines for the log file and `on_line` only, not the terminal (daprd's span lines).
    hide_from_echo: Callable[[str], bool] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _tail: deque[str] = field(default_factory=lambda: deque(maxlen=40), init=False)
    _pump: threading.Thread | None = field(default=None, init=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.popen = subprocess.Popen(
                list(self.argv),
                cwd=self.cwd,
                env=dict(self.env) if self.env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise SidecartError(f"{self.name}: cannot start {self.argv[0]!r}: not found") from exc
        self._pump = threading.Thread(
            target=self._pump_output, name=f"log-{self.name}", daemon=True
        )
        self._pump.start()

    def _pump_output(self) -> None:
        assert self.popen is not None and self.popen.stdout is not None
        prefix = f"\x1b[{_COLOURS[self.colour % len(_COLOURS)]}m{self.name:<18}|\x1b[0m "
        with self.log_path.open("a", encoding="utf-8") as log:
            for raw in self.popen.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                self._tail.append(line)
                log.write(line + "\n")
                log.flush()
                if self.echo is not None and not (
                    self.hide_from_echo is not None and self.hide_from_echo(line)
                ):
                    self.echo.write(prefix + line + "\n")
                    self.echo.flush()
                if self.on_line is not None:
                    with contextlib.suppress(Exception):
                        self.on_line(line)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def exit_code(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def tail(self, lines: int = 15) -> list[str]:
        return list(self._tail)[-lines:]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the whole process group, then SIGKILL whatever is left after `timeout`."""
        if self.popen is None:
            return
        group = self.popen.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            self.popen.wait(timeout=5)
        # The leader may exit before its children: sweep the group until it is empty.
        deadline = time.monotonic() + timeout
        while _group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _group_alive(group):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        if self._pump is not None:
            self._pump.join(timeout=2)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still counts for killpg; it is gone for any practical purpose.
    for proc in psutil.process_iter(["pid", "status"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(proc.info["pid"]) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_owner(port: int) -> str | None:
    """Describe who listens on 127.0.0.1:`port` (or any address), or None when it is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: connections of an earlier run in TIME_WAIT must not count as "taken".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            pass
        else:
            return None
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status != psutil.CONN_LISTEN or not conn.laddr:
                continue
            if conn.laddr.port == port and conn.pid:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    return "another process"


def listening_ports(pids: set[int]) -> set[int]:
    ports: set[int] = set()
    with contextlib.suppress(psutil.Error):
        for conn in psutil.net_connections(kind="tcp"):
            if conn.pid in pids and conn.status == psutil.CONN_LISTEN and conn.laddr:
                ports.add(conn.laddr.port)
    return ports


def wait_until(
    what: str,
    ready: Callable[[], bool],
    timeout: float,
    watch: Sequence[ManagedProcess] = (),
) -> None:
    """Poll `ready` until it holds; fail early, with the log's tail, if a watched process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        for proc in watch:
            code = proc.exit_code()
            if code is not None:
                last = next((ln for ln in reversed(proc.tail()) if ln.strip()), "(no output)")
                raise SidecartError(
                    f"{proc.name} exited with code {code} while waiting for {what}: {last.strip()}"
                    f" (log: {proc.log_path})"
                )
        if time.monotonic() > deadline:
            hint = f" (log: {watch[0].log_path})" if watch else ""
            raise SidecartError(f"timed out after {timeout:.0f}s waiting for {what}{hint}")
        time.sleep(0.1)


def http_ok(url: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            return httpx.get(url, timeout=1.0).is_success
        except httpx.HTTPError:
            return False

    return probe


def tcp_open(port: int) -> Callable[[], bool]:
    def probe() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    return probe


def python_bin_dir() -> str:
    """The folder of the interpreter running Sidecart: apps' `python` must be this venv's."""
    return str(Path(sys.executable).parent)
