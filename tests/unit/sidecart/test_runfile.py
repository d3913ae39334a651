from pathlib import Path

import pytest

from sidecart import runfile
from sidecart.errors import SidecartError

ROOT = Path(__file__).resolve().parents[3]


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "app").mkdir(exist_ok=True)
    path = tmp_path / "dapr.yaml"
    path.write_text(text)
    return path


def test_the_projects_run_file_is_valid_and_names_web_and_catalog() -> None:
    _, apps = runfile.load(ROOT / "dapr" / "dapr.yaml")
    assert {"web", "catalog"} <= {a.app_id for a in apps}


def test_common_settings_apply_to_every_app_and_the_apps_own_value_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
version: 1
common:
  appHealthCheckPath: /healthz
  resourcesPaths: [./components]
  env: {A: common, B: common}
apps:
  - appID: one
    appDirPath: ./app
    appPort: 8000
    appHealthCheckPath: /_healthz
    env: {B: own}
    command: [python, -m, one]
""",
    )
    _, (app,) = runfile.load(path)
    assert app.app_health_check_path == "/_healthz"
    assert app.env == {"A": "common", "B": "own"}
    assert app.resources_paths == [(tmp_path / "components").resolve()]
    assert app.app_dir == (tmp_path / "app").resolve()


def test_an_unknown_field_is_refused_with_its_place(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\napps:\n  - appID: one\n    appDirPath: ./app\n    appPrt: 8000\n",
    )
    with pytest.raises(SidecartError, match=r"apps\[0\]\.appPrt: unknown field"):
        runfile.load(path)


def test_an_unknown_common_field_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\ncommon:\n  resourcePath: x\napps:\n  - {appID: a, appDirPath: ./app}\n",
    )
    with pytest.raises(SidecartError, match=r"common\.resourcePath: unknown field"):
        runfile.load(path)


def test_only_version_1_is_understood(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 2\napps:\n  - {appID: a, appDirPath: ./app}\n")
    with pytest.raises(SidecartError, match="version"):
        runfile.load(path)


def test_an_app_id_that_dapr_would_refuse_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\napps:\n  - {appID: My_App, appDirPath: ./app}\n")
    with pytest.raises(SidecartError, match=r"apps\[0\]\.appID"):
        runfile.load(path)


def test_two_apps_with_one_id_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "version: 1\napps:\n  - {appID: a, appDirPath: ./app}\n  - {appID: a, appDirPath: ./app}\n",
    )
    with pytest.raises(SidecartError, match="appears twice"):
        runfile.load(path)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\napps:\n  - appID: [a\n")
    with pytest.raises(SidecartError, match="not valid YAML at line"):
        runfile.load(path)


def test_a_missing_app_folder_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\napps:\n  - {appID: a, appDirPath: ./nowhere}\n")
    with pytest.raises(SidecartError, match="nowhere is not a folder"):
        runfile.load(path)
