"""The recording and alerting rules pass promtool's checks and its unit tests; the scrape
config `sidecart run` generates is one Prometheus accepts."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sidecart import prometheus


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [prometheus.promtool(), *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_promtool_check_rules_passes() -> None:
    result = promtool("check", "rules", str(prometheus.RULES_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_alerts_fire_as_their_unit_tests_expect() -> None:
    result = promtool("test", "rules", "rules_test.yml", cwd=prometheus.RULES_FILE.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_generated_scrape_config_is_valid(tmp_path: Path) -> None:
    targets = [
        prometheus.Target("web", "app", 8080),
        prometheus.Target("web", "sidecar", 9091),
        prometheus.Target("catalog", "app", 8101),
        prometheus.Target("catalog", "sidecar", 9092),
    ]
    config = prometheus.write_config(
        tmp_path / "prometheus.yml", prometheus.scrape_config(targets, log_store_port=9428)
    )
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    text = config.read_text()
    assert "job_name: apps" in text and "job_name: sidecars" in text
