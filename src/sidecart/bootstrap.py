"""Install what Sidecart needs, reusing whatever is already there.

Each step checks first and installs only what is missing, so a warm run takes seconds. Progress
and the time of each step go to stderr; a missing prerequisite is one clear line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from sidecart.errors import SidecartError
from sidecart.paths import PROJECT_ROOT, cache_dir, dapr_bin_dir
from sidecart.versions import (
    DAPR_RUNTIME_VERSION,
    KUSTOMIZE_VERSION,
    MAVEN_DEPENDENCY_PLUGIN,
    VICTORIA_LOGS_VERSION,
    ZIPKIN_VERSION,
)

DAPR_WRAPPER_MODULE = PROJECT_ROOT / "tools" / "dapr-runtime"
DAPR_BINARIES = ("daprd", "placement", "sentry")


def say(message: str) -> None:
    sys.stderr.write(f"[bootstrap] {message}\n")
    sys.stderr.flush()


@dataclass(frozen=True)
class Step:
    name: str
    is_done: Callable[[], bool]
    install: Callable[[], None]


def run_steps(steps: Iterable[Step]) -> None:
    started = time.monotonic()
    for step in steps:
        t0 = time.monotonic()
        if step.is_done():
            say(f"{step.name}: present ({time.monotonic() - t0:.1f}s)")
            continue
        say(f"{step.name}: installing ...")
        step.install()
        if not step.is_done():
            raise SidecartError(f"{step.name}: installed, but the check still fails")
        say(f"{step.name}: installed ({time.monotonic() - t0:.1f}s)")
    say(f"done in {time.monotonic() - started:.1f}s")


def _run(
    argv: list[str], what: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> None:
    """Run an installer command, printing a heartbeat so a long build is visibly alive."""
    started = time.monotonic()
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(30):
            say(f"  still {what} ({time.monotonic() - started:.0f}s)")

    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    try:
        result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    finally:
        stop.set()
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        detail = " | ".join(tail) or f"exit code {result.returncode}"
        raise SidecartError(f"{what} failed: {detail}")


# --- Dapr runtime -----------------------------------------------------------------------------


def binary_version(path: Path) -> str | None:
    if not path.is_file():
        return None
    try:
        out = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _stamp() -> Path:
    # placement and sentry have no --version flag: the build leaves this stamp beside them.
    return dapr_bin_dir() / ".sidecart-runtime-version"


def dapr_runtime_present() -> bool:
    stamped = _stamp().is_file() and _stamp().read_text().strip() == DAPR_RUNTIME_VERSION
    return (
        stamped
        and binary_version(dapr_bin_dir() / "daprd") == DAPR_RUNTIME_VERSION
        and all((dapr_bin_dir() / name).is_file() for name in DAPR_BINARIES)
    )


def build_dapr_runtime() -> None:
    go = shutil.which("go")
    if go is None:
        raise SidecartError(
            f"Go toolchain not found: it is needed once to build daprd {DAPR_RUNTIME_VERSION} "
            "(install Go >= 1.26, or put daprd, placement and sentry "
            f"{DAPR_RUNTIME_VERSION} in {dapr_bin_dir()})"
        )
    out_dir = dapr_bin_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"}
    ldflags = f"-s -w -X github.com/dapr/dapr/pkg/buildinfo.version={DAPR_RUNTIME_VERSION}"
    _stamp().unlink(missing_ok=True)
    for name in DAPR_BINARIES:
        # Without the allcomponents tag daprd is built with no component at all.
        tags = ["-tags", "allcomponents"] if name == "daprd" else []
        # Build to a temporary name so an interrupted build never leaves a broken binary behind.
        partial = out_dir / f".{name}.partial"
        say(f"  building {name} {DAPR_RUNTIME_VERSION} (cold: about 5 minutes for daprd)")
        _run(
            [
                go,
                "build",
                *tags,
                "-ldflags",
                ldflags,
                "-o",
                str(partial),
                f"github.com/dapr/dapr/cmd/{name}",
            ],
            f"building {name}",
            env=env,
            cwd=DAPR_WRAPPER_MODULE,
        )
        partial.replace(out_dir / name)
    _stamp().write_text(DAPR_RUNTIME_VERSION + "\n")


# --- Redis ------------------------------------------------------------------------------------


def apt_install(*packages: str) -> None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise SidecartError(
            f"{', '.join(packages)} missing and cannot be installed here: "
            "install them with your package manager (apt-get needs root)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lists = Path("/var/lib/apt/lists")
    if not any(lists.glob("*Packages*")):
        _run(["apt-get", "update", "-q"], "apt-get update", env=env)
    _run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
        f"apt-get install {' '.join(packages)}",
        env=env,
    )


def redis_present() -> bool:
    return shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None


# --- Zipkin -----------------------------------------------------------------------------------


def zipkin_jar() -> Path:
    return cache_dir() / "zipkin" / f"zipkin-server-{ZIPKIN_VERSION}-exec.jar"


def java_present() -> bool:
    return shutil.which("java") is not None


def zipkin_present() -> bool:
    return zipkin_jar().is_file() and java_present()


def install_zipkin() -> None:
    if not java_present():
        raise SidecartError(
            "java not found: Zipkin needs a Java 17 runtime "
            "(apt-get install openjdk-17-jre-headless)"
        )
    mvn = shutil.which("mvn")
    if mvn is None:
        raise SidecartError(
            "mvn not found: it fetches Zipkin from Maven Central (apt-get install maven)"
        )
    zipkin_jar().parent.mkdir(parents=True, exist_ok=True)
    _run(
        [
            mvn,
            "-q",
            "-B",
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact=io.zipkin:zipkin-server:{ZIPKIN_VERSION}:jar:exec",
            f"-DoutputDirectory={zipkin_jar().parent}",
        ],
        f"fetching Zipkin {ZIPKIN_VERSION} from Maven Central",
    )


# --- observability: Prometheus (apt) and VictoriaLogs (built from its Go module) ----------------


def prometheus_present() -> bool:
    return shutil.which("prometheus") is not None and shutil.which("promtool") is not None


def victoria_logs_bin() -> Path:
    return cache_dir() / f"victoria-logs-{VICTORIA_LOGS_VERSION}" / "victoria-logs"


def victoria_logs_present() -> bool:
    return victoria_logs_bin().is_file()


def _go_install(package: str, version: str, out_dir: Path, what: str, took: str) -> None:
    go = shutil.which("go")
    if go is None:
        raise SidecartError(
            f"Go toolchain not found: it is needed once to build {what} {version} "
            f"(or put the binary into {out_dir})"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    # `go install` writes the binary whole at the end: an interrupted build leaves nothing.
    _run(
        [go, "install", f"{package}@{version}"],
        f"building {what} {version} (cold: {took})",
        env={**os.environ, "CGO_ENABLED": "0", "GOBIN": str(out_dir)},
        cwd=out_dir,
    )


def install_victoria_logs() -> None:
    _go_install(
        "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs",
        VICTORIA_LOGS_VERSION,
        victoria_logs_bin().parent,
        "VictoriaLogs",
        "about a minute",
    )


def kustomize_bin() -> Path:
    return cache_dir() / f"kustomize-{KUSTOMIZE_VERSION}" / "kustomize"


def kustomize_present() -> bool:
    return kustomize_bin().is_file()


def install_kustomize() -> None:
    _go_install(
        "sigs.k8s.io/kustomize/kustomize/v5",
        KUSTOMIZE_VERSION,
        kustomize_bin().parent,
        "kustomize",
        "about 45 seconds",
    )


def default_steps() -> list[Step]:
    return [
        Step(
            f"dapr runtime {DAPR_RUNTIME_VERSION} in {dapr_bin_dir()}",
            dapr_runtime_present,
            build_dapr_runtime,
        ),
        Step("redis-server (apt)", redis_present, lambda: apt_install("redis-server")),
        Step(f"zipkin {ZIPKIN_VERSION} in {zipkin_jar().parent}", zipkin_present, install_zipkin),
        Step("prometheus, promtool (apt)", prometheus_present, lambda: apt_install("prometheus")),
        Step(
            f"victoria-logs {VICTORIA_LOGS_VERSION} in {victoria_logs_bin().parent}",
            victoria_logs_present,
            install_victoria_logs,
        ),
        Step(
            f"kustomize {KUSTOMIZE_VERSION} in {kustomize_bin().parent}",
            kustomize_present,
            install_kustomize,
        ),
    ]


def bootstrap() -> None:
    run_steps(default_steps())
