"""`sidecart logs TRACE_ID`: every line of one request, from every app and sidecar, in order."""

from __future__ import annotations

import argparse
import json
import os
import sys

from sidecart import logstore

LOG_STORE_ENV = "SIDECART_LOG_STORE_URL"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    logs = sub.add_parser(
        "logs",
        help="print every log line of one trace (apps and sidecars) from the log store",
        description="Query the central log store (VictoriaLogs, started by `sidecart run`) for "
        "every line that carries TRACE_ID, oldest first.",
    )
    logs.add_argument("trace_id", metavar="TRACE_ID", help="32 hexadecimal digits")
    logs.add_argument(
        "--url",
        default=os.environ.get(LOG_STORE_ENV, f"http://127.0.0.1:{logstore.DEFAULT_PORT}"),
        help=f"the log store (default: ${LOG_STORE_ENV} or the port `sidecart run` uses)",
    )
    logs.add_argument("--json", action="store_true", help="one JSON record per line")


def cmd_logs(args: argparse.Namespace) -> int:
    records = logstore.trace_lines(args.url, args.trace_id)
    if not records:
        sys.stderr.write(f"sidecart: no log line with trace_id {args.trace_id} in {args.url}\n")
        return 1
    for record in records:
        line = json.dumps(record, sort_keys=True) if args.json else logstore.format_line(record)
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return 0
