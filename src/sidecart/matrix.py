"""`sidecart matrix` (make test-matrix): the shop's end-to-end suite on every runnable profile.

For each profile it installs what the profile needs (the bootstrap's steps, idempotent), runs
`pytest -m e2e` with $SIDECART_PROFILE set, so that every integration test marked `e2e` runs
against that profile's brokers and stores, and ends with one table: profile x result x
duration. Each row's full pytest output is kept in .sidecart/matrix/<profile>.log.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sidecart import profile_install, profiles
from sidecart.errors import SidecartError
from sidecart.paths import PROJECT_ROOT, state_dir

_SUMMARY = re.compile(r"=+ (?P<text>.*\d+ \w+.*) in [\d.]+s.* =+$")


@dataclass
class Row:
    profile: profiles.Profile
    result: str
    detail: str
    seconds: float
    log: Path | None = None

    @property
    def ok(self) -> bool:
        return self.result in {"passed", "not runnable"}


def selected(spec: str | None) -> list[profiles.Profile]:
    """Space-separated profiles (`"redis kafka,postgres"`), `all` (the full cross product), or
    the default matrix (every choice at least once, plus a few combinations)."""
    if not spec:
        return profiles.matrix_profiles()
    if spec.strip() == "all":
        return profiles.all_profiles()
    return [profiles.parse(word) for word in spec.split()]


def log_path(profile: profiles.Profile) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", profile.label)
    return state_dir() / "matrix" / f"{safe}.log"


def run_row(
    profile: profiles.Profile, pytest_args: Sequence[str], bootstrap: bool, out: IO[str]
) -> Row:
    started = time.monotonic()
    refused = profile.not_runnable()
    if refused is not None:
        return Row(profile, "not runnable", refused.split(": ", 2)[-1], 0.0)
    if bootstrap:
        try:
            profile_install.bootstrap(profile)
        except SidecartError as exc:
            return Row(profile, "failed", f"bootstrap: {exc}", time.monotonic() - started)
    log = log_path(profile)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, profiles.ENV_VAR: profile.label}
    argv = [sys.executable, "-m", "pytest", "-m", "e2e", "-p", "no:cacheprovider", *pytest_args]
    out.write(f"[matrix] {profile.label}: {' '.join(argv[1:])}\n")
    out.flush()
    summary = ""
    with log.open("w", encoding="utf-8") as handle:
        proc = subprocess.Popen(
            argv,
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            handle.write(line)
            out.write(f"[{profile.label}] {line}")
            match = _SUMMARY.search(line.strip())
            if match:
                summary = re.sub(r",? \d+ deselected", "", match.group("text"))
        code = proc.wait()
    seconds = time.monotonic() - started
    if code == 0:
        return Row(profile, "passed", summary, seconds, log)
    if code == 5:
        return Row(profile, "failed", "no test marked e2e ran", seconds, log)
    return Row(profile, "failed", summary or f"pytest exit code {code}", seconds, log)


def table(rows: Sequence[Row]) -> str:
    header = ("profile", "result", "duration", "tests")
    lines = [
        (
            r.profile.label,
            r.result,
            f"{r.seconds:.0f}s" if r.seconds else "-",
            r.detail,
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=False)]
    widths[-1] = 0
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    rule = "  ".join("-" * max(w, 5) for w in widths)
    return "\n".join(
        [fmt.format(*header).rstrip(), rule, *(fmt.format(*ln).rstrip() for ln in lines)]
    )


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("matrix", help="the e2e suite on every runnable profile, as a table")
    parser.add_argument(
        "--profiles",
        default=os.environ.get("MATRIX") or None,
        help='space-separated profiles, e.g. "redis kafka,postgres"; "all" for every '
        "combination (default: $MATRIX, else each choice once plus a few pairs)",
    )
    parser.add_argument(
        "--no-bootstrap", action="store_true", help="do not install missing infrastructure"
    )
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")


def cmd_matrix(args: argparse.Namespace) -> int:
    rows: list[Row] = []
    extra = [a for a in args.pytest_args if a != "--"]
    for profile in selected(args.profiles):
        rows.append(run_row(profile, extra, not args.no_bootstrap, sys.stderr))
    sys.stdout.write("\n" + table(rows) + "\n")
    failed = [r for r in rows if not r.ok]
    passed = [r for r in rows if r.result == "passed"]
    for row in failed:
        sys.stdout.write(f"  {row.profile.label}: see {row.log or 'the output above'}\n")
    sys.stdout.write(f"matrix: {len(passed)} passed, {len(failed)} failed\n")
    sys.stdout.flush()
    return 1 if failed else 0
