"""The observability side of a running stack: Prometheus, the log store and the log shipper.

`Stack` (the launcher) calls into this module at a few points when `StackOptions.observability`
is on (`sidecart run` always, the test harness when asked):

- planning: two more servers to start with the infrastructure (`needs`);
- before the infrastructure starts: the scrape config is written and the shipper started;
- for every process: its output lines go to the shipper (`attach`);
- for every app: where the Zipkin and log UIs are, for links (`app_env`);
- for every daprd: its spans are also logged, so sidecar lines carry trace ids (`dapr_config`);
- on stop: the last lines are flushed before the log store stops.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecart import logstore, prometheus
from sidecart.infra import Need
from sidecart.logship import APP, INFRA, SIDECAR, LogShipper, ShipperStats
from sidecart.procs import ManagedProcess
from sidecart.service.links import LOGS_UI_ENV, ZIPKIN_UI_ENV

log = logging.getLogger("sidecart.observe")

PROMETHEUS_PORT = 9090
LOG_STORE = logstore.VICTORIA_LOGS.name
DAPR_SPAN_SCOPE = '"scope":"dapr.runtime.trace"'
# Observability servers: when one of them exits, the shop goes on (lines are buffered).
OPTIONAL = frozenset({LOG_STORE, prometheus.PROMETHEUS.name})
SIDECAR_SUFFIX = "-dapr"


def needs() -> dict[str, Need]:
    """The two servers observability adds, on the ports `make run` uses."""
    return {
        logstore.VICTORIA_LOGS.name: Need(logstore.VICTORIA_LOGS, logstore.DEFAULT_PORT, ["logs"]),
        prometheus.PROMETHEUS.name: Need(prometheus.PROMETHEUS, PROMETHEUS_PORT, ["metrics"]),
    }


def classify(process_name: str, infra_names: set[str]) -> tuple[str, str]:
    """(service, source) of a launcher process: `catalog-dapr` is catalog's sidecar."""
    if process_name in infra_names:
        return process_name, INFRA
    if process_name.endswith(SIDECAR_SUFFIX):
        return process_name.removesuffix(SIDECAR_SUFFIX), SIDECAR
    return process_name, APP


def is_span_line(line: str) -> bool:
    """daprd's span lines (tracing.stdout) are for the log store, too many for a terminal."""
    return DAPR_SPAN_SCOPE in line


@dataclass
class Observability:
    infra_ports: Mapping[str, int]
    shipper: LogShipper | None = field(default=None, init=False)
    _reported: set[str] = field(default_factory=set, init=False)

    @property
    def log_store_url(self) -> str:
        return f"http://127.0.0.1:{self.infra_ports[logstore.VICTORIA_LOGS.name]}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.infra_ports[prometheus.PROMETHEUS.name]}"

    def prepare(self, data_dir: Path, targets: list[prometheus.Target]) -> None:
        """Write Prometheus's scrape config and start shipping (the store may come up later)."""
        config = prometheus.scrape_config(
            targets, log_store_port=self.infra_ports[logstore.VICTORIA_LOGS.name]
        )
        prometheus.write_config(
            data_dir / prometheus.PROMETHEUS.name / prometheus.CONFIG_NAME, config
        )
        self.shipper = LogShipper(self.log_store_url)
        self.shipper.start()

    def attach(self, proc: ManagedProcess) -> None:
        if self.shipper is not None:
            service, source = classify(proc.name, set(self.infra_ports))
            proc.on_line = self.shipper.sink(service, source)
            if source == SIDECAR:
                proc.hide_from_echo = is_span_line

    def essential(self, exited: list[ManagedProcess]) -> list[ManagedProcess]:
        """The exited processes the shop needs; an observability server's exit is said once."""
        for proc in exited:
            if proc.name in OPTIONAL and proc.name not in self._reported:
                self._reported.add(proc.name)
                log.warning(
                    "%s exited with code %s; the shop keeps running without it (log: %s)",
                    proc.name,
                    proc.exit_code(),
                    proc.log_path,
                )
        return [p for p in exited if p.name not in OPTIONAL]

    def app_env(self) -> dict[str, str]:
        env = {LOGS_UI_ENV: self.log_store_url + logstore.UI_PATH.rstrip("/")}
        if "zipkin" in self.infra_ports:
            env[ZIPKIN_UI_ENV] = f"http://127.0.0.1:{self.infra_ports['zipkin']}/zipkin"
        return env

    @staticmethod
    def dapr_config(doc: dict[str, Any]) -> None:
        """Have daprd log each span it makes (with trace and span id) besides exporting it."""
        tracing = (doc.get("spec") or {}).get("tracing")
        if isinstance(tracing, dict):
            tracing["stdout"] = True

    def urls(self) -> dict[str, str]:
        return {
            "prometheus": self.prometheus_url,
            "logs (VictoriaLogs UI)": self.log_store_url + logstore.UI_PATH,
        }

    def flush(self, timeout: float = 3.0) -> None:
        if self.shipper is not None:
            self.shipper.flush(timeout)

    def close(self) -> ShipperStats | None:
        if self.shipper is None:
            return None
        stats = self.shipper.stop(timeout=1.0)
        self.shipper = None
        if stats.dropped:
            log.warning(
                "log shipping dropped %d of %d lines (the log store was down or full)",
                stats.dropped,
                stats.received,
            )
        return stats
