"""The command line (``python tools/fuzz --help``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .campaign import format_summary, run_campaign
from .options import Case, Json
from .run import run_case
from .shrink import shrink
from .supervise import DEFAULT_TIMEOUT, simulate_cores, supervise


def load_cases(path: str) -> list[Case]:
    cases = []
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            record = json.loads(line)
            cases.append(record.get("case", record))
    return cases


def _replay(cases: list[Case]) -> int:
    """Runs cases in this process: a failure raises, with its traceback."""
    for case in cases:
        print(f"replaying case {case.get('id', '?')}", file=sys.stderr)
        outcome = run_case(case, reraise=True)
        print(f"  {outcome.status}: {outcome.message[:500]}", file=sys.stderr)
        if outcome.status != "ok":  # an allowed error: where it came from
            print(outcome.detail, file=sys.stderr)
    return 0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    summary = sys.modules[__package__].__doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python tools/fuzz", description=summary)
    parser.add_argument("--seconds", type=float, help="stop drawing cases after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, help="stop after this many cases")
    parser.add_argument("--out", help="write failures here as JSON lines")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help="seconds per case before it counts as a hang",
    )
    parser.add_argument("--replay", help="run this case JSON in-process")
    parser.add_argument("--replay-file", help="run the cases of this JSON-lines file")
    parser.add_argument("--shrink-file", help="simplify a failing case of this file")
    parser.add_argument("--index", type=int, help="only this line of the file")
    parser.add_argument("--quiet", action="store_true", help="summary without cases")
    parser.add_argument("--supervise", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _selected(path: str, index: int | None) -> list[Case]:
    cases = load_cases(path)
    return cases if index is None else [cases[index]]


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.supervise:
        supervise(args.timeout)
        return 0
    if args.replay or args.replay_file:
        simulate_cores()  # as in the supervisors
        return _replay(
            [json.loads(args.replay)]
            if args.replay
            else _selected(args.replay_file, args.index)
        )
    if args.shrink_file:
        for case in _selected(args.shrink_file, args.index):
            small, outcome = shrink(case, args.timeout)
            print(f"[{outcome.status}] {outcome.message[:300]}\n{json.dumps(small)}")
        return 0
    if args.seconds is None and args.cases is None:
        args.seconds = 60.0

    def report(failure: Json) -> None:
        print(
            f"FAIL [{failure['kind']}] case {failure['case']['id']}: "
            f"{failure['message'][:200]}",
            file=sys.stderr,
            flush=True,
        )

    summary = run_campaign(
        args.seed,
        args.cases,
        args.seconds,
        args.workers,
        args.timeout,
        on_failure=report,
    )
    if args.out:
        with open(args.out, "w") as f:
            f.writelines(json.dumps(failure) + "\n" for failure in summary.failures)
    print(format_summary(summary, details=not args.quiet))
    return 1 if summary.failures else 0
