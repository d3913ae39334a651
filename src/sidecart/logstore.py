"""VictoriaLogs, the central log store: how to run it and how to ask it for one trace's lines.

It keeps every line the launcher ships (`sidecart.logship`) and answers LogsQL on
`/select/logsql/query`; its web UI is `/select/vmui/`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from sidecart.bootstrap import victoria_logs_bin
from sidecart.errors import SidecartError
from sidecart.infra import Server
from sidecart.procs import http_ok
from sidecart.service.links import TRACE_ID, logs_query

DEFAULT_PORT = 9428
UI_PATH = "/select/vmui/"


def _argv(port: int, data: Path) -> list[str]:
    binary = victoria_logs_bin()
    if not binary.is_file():
        raise SidecartError("VictoriaLogs is not installed: run `make bootstrap`")
    return [
        str(binary),
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={data}",
        "-retentionPeriod=7d",
        "-loggerFormat=json",
    ]


VICTORIA_LOGS = Server(
    "victoria-logs",
    _argv,
    lambda port: http_ok(f"http://127.0.0.1:{port}/health"),
    startup_timeout=30,
)


def query(
    store_url: str, logsql: str, limit: int = 10_000, timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Run a LogsQL query; every matching record, as the store returns them."""
    try:
        response = httpx.post(
            f"{store_url.rstrip('/')}/select/logsql/query",
            data={"query": logsql, "limit": str(limit)},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise SidecartError(f"log store at {store_url} is not answering: {exc}") from exc
    if not response.is_success:
        raise SidecartError(
            f"log store at {store_url} refused the query {logsql!r}: "
            f"HTTP {response.status_code} {response.text.strip()[:200]}"
        )
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def trace_lines(store_url: str, trace_id: str) -> list[dict[str, Any]]:
    """Every line of one trace, from apps and sidecars, oldest first."""
    wanted = trace_id.strip().lower()
    if not TRACE_ID.match(wanted):
        raise SidecartError(f"{trace_id!r} is not a trace id (32 hexadecimal digits)")
    return query(store_url, logs_query(wanted))


def format_line(record: dict[str, Any]) -> str:
    when = str(record.get("_time", ""))[:23].replace("T", " ")
    where = f"{record.get('service', '?')}/{record.get('source', '?')}"
    return f"{when}  {where:<22} {record.get('level', '')!s:<5}  {record.get('_msg', '')}"


def format_lines(records: list[dict[str, Any]]) -> Iterator[str]:
    for record in records:
        yield format_line(record)
