"""Links from a page to one request's trace in Zipkin and its log lines in the log UI.

    links = ObservabilityLinks.from_env()
    links.trace(trace_id)  # http://127.0.0.1:9411/zipkin/traces/<trace id>
    links.logs(trace_id)   # http://127.0.0.1:9428/select/vmui/#/?query=trace_id%3A%3D<id>&...

`sidecart run` and the test harness set SIDECART_ZIPKIN_UI_URL and SIDECART_LOGS_UI_URL for every
app (the ports differ in tests); the defaults are the ports `make run` uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
ZIPKIN_UI_ENV = "SIDECART_ZIPKIN_UI_URL"
LOGS_UI_ENV = "SIDECART_LOGS_UI_URL"


class LinkSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    zipkin_ui_url: str = Field("http://127.0.0.1:9411/zipkin", validation_alias=ZIPKIN_UI_ENV)
    logs_ui_url: str = Field("http://127.0.0.1:9428/select/vmui", validation_alias=LOGS_UI_ENV)


ORDER_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def logs_query(trace_id: str) -> str:
    """The LogsQL query for every line of one trace, oldest first."""
    return f"trace_id:={trace_id} | sort by (_time)"


def order_logs_query(order_id: str) -> str:
    """Every line that names the order in an `order_id` field (`extra={"order_id": ...}`)."""
    return f'order_id:="{order_id}" | sort by (_time)'


@dataclass(frozen=True)
class ObservabilityLinks:
    zipkin_ui: str
    logs_ui: str

    @classmethod
    def from_env(cls) -> ObservabilityLinks:
        settings = LinkSettings()
        return cls(settings.zipkin_ui_url.rstrip("/"), settings.logs_ui_url.rstrip("/"))

    def trace(self, trace_id: str) -> str | None:
        """Zipkin's page of one trace; None when `trace_id` is not 32 lowercase hex digits."""
        if not TRACE_ID.match(trace_id):
            return None
        return f"{self.zipkin_ui}/traces/{trace_id}"

    def logs(self, trace_id: str) -> str | None:
        """The log UI showing every line (apps, sidecars) of one trace over the last 7 days."""
        if not TRACE_ID.match(trace_id):
            return None
        return self._logs_ui(logs_query(trace_id))

    def order_logs(self, order_id: str) -> str | None:
        """The log UI showing every line logged with this `order_id`, for orders whose trace id
        is not known; from one of them, its trace_id field leads to the whole request."""
        if not ORDER_ID.match(order_id):
            return None
        return self._logs_ui(order_logs_query(order_id))

    def _logs_ui(self, query: str) -> str:
        params = {"query": query, "g0.range_input": "7d", "g0.relative_time": "last_7_days"}
        return f"{self.logs_ui}/#/?{urlencode(params)}"
