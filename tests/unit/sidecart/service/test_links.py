from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from sidecart.service.links import ObservabilityLinks

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_links_point_at_zipkin_and_the_log_ui(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIDECART_ZIPKIN_UI_URL", "http://127.0.0.1:19411/zipkin/")
    monkeypatch.setenv("SIDECART_LOGS_UI_URL", "http://127.0.0.1:19428/select/vmui")
    links = ObservabilityLinks.from_env()
    assert links.trace(TRACE) == f"http://127.0.0.1:19411/zipkin/traces/{TRACE}"
    logs = links.logs(TRACE)
    assert logs is not None
    assert logs.startswith("http://127.0.0.1:19428/select/vmui/#/?")
    params = parse_qs(urlsplit(logs).fragment.split("?", 1)[1])
    assert params["query"] == [f"trace_id:={TRACE} | sort by (_time)"]


def test_the_defaults_are_the_ports_make_run_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIDECART_ZIPKIN_UI_URL", raising=False)
    monkeypatch.delenv("SIDECART_LOGS_UI_URL", raising=False)
    links = ObservabilityLinks.from_env()
    assert links.trace(TRACE) == f"http://127.0.0.1:9411/zipkin/traces/{TRACE}"
    assert str(links.logs(TRACE)).startswith("http://127.0.0.1:9428/select/vmui/#/?query=")


@pytest.mark.parametrize("bad", ["", "xyz", TRACE.upper(), TRACE + "0", "<script>"])
def test_no_link_for_something_that_is_not_a_trace_id(bad: str) -> None:
    links = ObservabilityLinks("http://z", "http://l")
    assert links.trace(bad) is None
    assert links.logs(bad) is None


def test_an_order_without_a_known_trace_links_to_its_lines_by_order_id() -> None:
    links = ObservabilityLinks("http://z", "http://127.0.0.1:9428/select/vmui")
    url = links.order_logs("d5f5ff7e-0095-43e9-9ad5-40b4220b0291")
    assert url is not None
    params = parse_qs(urlsplit(url).fragment.split("?", 1)[1])
    assert params["query"] == ['order_id:="d5f5ff7e-0095-43e9-9ad5-40b4220b0291" | sort by (_time)']
    assert links.order_logs('x" or *') is None
