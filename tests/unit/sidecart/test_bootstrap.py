import os
import subprocess
import sys
from pathlib import Path

import pytest

from sidecart.bootstrap import Step, run_steps
from sidecart.errors import SidecartError


def test_a_step_already_done_is_not_installed_again(capsys: pytest.CaptureFixture[str]) -> None:
    installs: list[str] = []
    run_steps([Step("thing", lambda: True, lambda: installs.append("thing"))])
    assert installs == []
    assert "[bootstrap] thing: present" in capsys.readouterr().err


def test_a_missing_step_is_installed_and_timed(capsys: pytest.CaptureFixture[str]) -> None:
    done: list[bool] = []
    run_steps([Step("thing", lambda: bool(done), lambda: done.append(True))])
    err = capsys.readouterr().err
    assert "thing: installing" in err
    assert "thing: installed (" in err


def test_an_install_that_does_not_take_is_an_error() -> None:
    with pytest.raises(SidecartError, match="installed, but the check still fails"):
        run_steps([Step("thing", lambda: False, lambda: None)])


def test_without_a_go_toolchain_the_bootstrap_says_so_in_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": "/usr/bin:/bin",
        "DAPR_INSTALL_DIR": str(tmp_path / "dapr"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "sidecart.cli", "bootstrap"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1
    assert "Go toolchain not found" in errors[0]
    assert "Traceback" not in result.stderr
