"""Shipping survives the log store being down: nothing blocks or crashes, and once the store
is up the buffered lines arrive (or, past the buffer's size, are counted as dropped)."""

from __future__ import annotations

import time
from pathlib import Path

from sidecart import logstore
from sidecart.logship import LogShipper
from sidecart.procs import ManagedProcess, free_port, wait_until


def test_lines_shipped_while_the_store_is_down_arrive_once_it_is_up(tmp_path: Path) -> None:
    port = free_port()
    store_url = f"http://127.0.0.1:{port}"
    shipper = LogShipper(store_url, max_queue=300, batch_size=50, max_backoff=0.5)
    shipper.start()
    store = ManagedProcess(
        name="victoria-logs",
        argv=logstore.VICTORIA_LOGS.argv(port, tmp_path / "store"),
        log_path=tmp_path / "victoria-logs.log",
    )
    try:
        started = time.monotonic()
        for index in range(500):
            shipper.ship("ordering", "app", f'{{"message": "line {index}", "level": "INFO"}}')
        assert time.monotonic() - started < 1.0, "ship() must never wait for the store"
        wait_until("a failed post", lambda: shipper.stats.failed_posts > 0, 10)

        (tmp_path / "store").mkdir()
        store.start()
        wait_until("VictoriaLogs", logstore.VICTORIA_LOGS.ready(port), 30, watch=[store])
        assert shipper.flush(timeout=30), "the backlog was not shipped once the store came up"

        stats = shipper.stats
        assert stats.received == 500
        assert stats.dropped == 200  # the queue holds 300: the oldest 200 went
        assert stats.shipped == 300

        def stored() -> list[str]:
            records = logstore.query(store_url, "service:ordering | sort by (_time)")
            return [str(r["_msg"]) for r in records]

        wait_until("the lines in the store", lambda: len(stored()) == 300, 15)
        messages = stored()
        assert messages[0] == "line 200"
        assert messages[-1] == "line 499"
    finally:
        shipper.stop(timeout=1)
        store.stop()
