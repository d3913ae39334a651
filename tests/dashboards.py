"""Reading the Grafana dashboards in observability/grafana: their panels and PromQL.

Grafana's own variables are replaced by what Grafana would send for "All" over the last hour,
so that every expression can be run as is against a real Prometheus.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ROOT

GRAFANA = ROOT / "observability" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

# What Grafana substitutes: the built-in intervals, and `.*` for a multi-value "All".
_BUILTINS = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
}


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    ref_id: str
    expr: str

    def promql(self, variables: dict[str, str]) -> str:
        expr = self.expr
        for name, value in _BUILTINS.items():
            expr = expr.replace(name, value)
        for name, value in variables.items():
            expr = re.sub(rf"\$\{{{name}\}}|\${name}\b", value, expr)
        return expr


def load(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def panels(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in doc.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # panels inside collapsed rows


def variables(doc: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: ".*" for v in doc.get("templating", {}).get("list", [])}


def queries(path: Path) -> list[Query]:
    doc = load(path)
    return [
        Query(doc["title"], panel["title"], target["refId"], target["expr"])
        for panel in panels(doc)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
