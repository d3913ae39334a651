"""`sidecart`: bootstrap the machine, run the shop, read its logs."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from sidecart import bench, cli_logs, matrix, profile_install, profiles
from sidecart import bootstrap as boot
from sidecart.errors import SidecartError
from sidecart.launcher import Stack, StackOptions, print_urls
from sidecart.paths import PROJECT_ROOT, state_dir


class _StopRequestedError(Exception):
    """Raised from a signal handler so that teardown runs on SIGTERM as on Ctrl-C."""


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    raise _StopRequestedError(signal.Signals(signum).name)


def cmd_bootstrap(args: argparse.Namespace) -> int:
    profile = profiles.from_env(args.profile)
    if profile.is_default and args.profile is None:
        boot.bootstrap()
    else:
        profile_install.bootstrap(profile)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    out = sys.stderr
    stack = Stack(
        StackOptions(
            run_file=Path(args.file),
            log_dir=state_dir() / "logs",
            data_dir=state_dir() / "data",
            echo=sys.stdout,
            observability=True,
            # Only the flag: $SIDECART_PROFILE is for the test harness and the bootstrap.
            profile=profiles.parse(args.profile).label if args.profile else None,
            external_infra=args.external_infra,
        )
    )
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        stack.plan()
        out.write(f"sidecart: starting {', '.join(a.app_id for a in stack.apps)}\n")
        started = time.monotonic()
        stack.start()
        out.write(
            f"\nsidecart: all sidecars and apps healthy in {time.monotonic() - started:.1f}s\n"
        )
        print_urls(stack, out)
        out.write(
            f"  logs                   {state_dir() / 'logs'}\n  Ctrl-C stops everything.\n\n"
        )
        out.flush()
        while True:
            failed = stack.failed_process()
            if failed is not None:
                raise SidecartError(
                    f"{failed.name} exited with code {failed.exit_code()}; stopping everything "
                    f"(log: {failed.log_path})"
                )
            time.sleep(0.5)
    except _StopRequestedError:
        out.write("\nsidecart: stopping ...\n")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stack.processes:
            stack.stop()
            out.write("sidecart: stopped\n")


def _add_profile_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--profile",
        default=None,
        help=f"infrastructure profile, e.g. kafka,postgres or names=sqlite (default: {default}); "
        "see docs/profiles.md",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sidecart", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    boot_parser = sub.add_parser(
        "bootstrap", help="install daprd, Redis, Zipkin (only what is missing)"
    )
    _add_profile_option(boot_parser, f"${profiles.ENV_VAR}, else the run file's")
    run = sub.add_parser("run", help="run a Dapr multi-app run file with real sidecars")
    run.add_argument("-f", "--file", default=str(PROJECT_ROOT / "dapr" / "dapr.yaml"))
    _add_profile_option(run, "the run file's components")
    run.add_argument(
        "--external-infra",
        action="store_true",
        help="start no broker or database: use the ones running at the components' addresses",
    )
    matrix.add_parser(sub)
    cli_logs.add_parser(sub)
    bench.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handlers = {
        "bootstrap": cmd_bootstrap,
        "run": cmd_run,
        "matrix": matrix.cmd_matrix,
        "logs": cli_logs.cmd_logs,
        "bench": bench.cmd_bench,
    }
    try:
        return handlers[args.command](args)
    except SidecartError as exc:
        sys.stderr.write(f"sidecart: error: {exc}\n")
        return 2
    except OSError as exc:
        sys.stderr.write(f"sidecart: error: {exc.strerror or exc}: {exc.filename or ''}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
