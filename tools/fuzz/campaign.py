"""Campaigns: the cases of a seed run in parallel, and their summary."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .draw import draw_case
from .options import NEW_LOSS_SHARES, Case, Json
from .run import FAILURE_KINDS, Outcome
from .supervise import DEFAULT_TIMEOUT, run_parallel

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?|\b(inf|nan)\b")


@dataclass
class Summary:
    seed: int
    workers: int
    seconds: float = 0.0
    counts: Counter = field(default_factory=Counter)
    rejections: Counter = field(default_factory=Counter)
    failures: list[Json] = field(default_factory=list)
    slowest: list[tuple[float, str]] = field(default_factory=list)
    sparse: int = 0  # cases with scipy.sparse inputs
    malformed: int = 0  # of which with a malformed CSR call
    compared: int = 0  # fits compared with their dense twins
    # (loss, outcome status) for loss='tweedie' and loss='quantile' cases
    new_losses: Counter = field(default_factory=Counter)
    edges: Counter = field(default_factory=Counter)  # cases by edge drawn
    limited: Counter = field(default_factory=Counter)  # statuses under a limit
    memory_errors: int = 0  # of the limited cases, MemoryErrors (allowed)
    refused: int = 0  # of the limited cases, those where threads were refused

    @property
    def cases(self) -> int:
        return sum(self.counts.values())

    def add(self, case: Case, outcome: Outcome) -> None:
        self.counts[outcome.status] += 1
        loss = case["params"].get("loss")
        if loss in NEW_LOSS_SHARES:
            self.new_losses[loss, outcome.status] += 1
        self.edges.update(case.get("edges", []))
        if case.get("limit"):
            self.limited[outcome.status] += 1
            self.memory_errors += outcome.message.startswith("MemoryError")
            self.refused += outcome.refused > 0
        if case["data"].get("sparse"):
            self.sparse += 1
            self.malformed += case.get("expect_error") == "malformed_csr"
            self.compared += outcome.compared
        self.slowest = sorted([*self.slowest, (outcome.seconds, case["id"])])[-3:]
        if outcome.status == "rejected":
            self.rejections[signature(outcome.message)] += 1
        if outcome.failed:
            self.failures.append(
                {
                    "kind": outcome.status,
                    "message": outcome.message,
                    "detail": outcome.detail,
                    "case": case,
                }
            )


def signature(message: str) -> str:
    """A message with its numbers blanked: failures with one cause share it."""
    first = message.splitlines()[0] if message else ""
    return _NUMBER.sub("#", first)[:160]


def campaign_cases(
    seed: int, max_cases: int | None, seconds: float | None
) -> Iterator[tuple[int, Case]]:
    start = time.monotonic()
    index = 0
    while (max_cases is None or index < max_cases) and (
        seconds is None or time.monotonic() - start < seconds
    ):
        yield index, draw_case(seed, index)
        index += 1


def run_campaign(
    seed: int,
    max_cases: int | None = None,
    seconds: float | None = None,
    workers: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
    on_failure: Callable[[Json], None] | None = None,
) -> Summary:
    """Draws and runs cases until ``max_cases`` or ``seconds`` is reached."""
    if max_cases is None and seconds is None:
        raise ValueError("give max_cases or seconds")
    summary = Summary(seed, workers)
    start = time.monotonic()
    for _, case, outcome in run_parallel(
        campaign_cases(seed, max_cases, seconds), workers, timeout
    ):
        before = len(summary.failures)
        summary.add(case, outcome)
        if on_failure and len(summary.failures) > before:
            on_failure(summary.failures[-1])
    summary.seconds = time.monotonic() - start
    summary.failures.sort(key=lambda f: int(f["case"]["id"].split(":")[-1]))
    return summary


def case_size(case: Case) -> int:
    data = case["data"]
    return data["n"] * data["n_features"] * data["n_outputs"] * len(case["calls"])


def _new_loss_line(summary: Summary) -> str:
    """'tweedie N cases (ok a, rejected b, ...); quantile M cases (...)'."""
    parts = []
    for loss in NEW_LOSS_SHARES:
        statuses = {
            status: n
            for (name, status), n in summary.new_losses.items()
            if name == loss
        }
        detail = ", ".join(f"{status} {n}" for status, n in sorted(statuses.items()))
        parts.append(f"{loss} {sum(statuses.values())} cases ({detail})")
    return "new losses: " + "; ".join(parts)


def _limits_line(summary: Summary) -> str:
    """'edges: ...; address-space limits: N cases (ok a, ...), m MemoryError(s)'."""
    edges = ", ".join(f"{name} {n}" for name, n in sorted(summary.edges.items()))
    statuses = ", ".join(f"{s} {n}" for s, n in sorted(summary.limited.items()))
    return (
        f"edges: {edges or 'none'}; address-space limits: "
        f"{sum(summary.limited.values())} cases ({statuses}), "
        f"{summary.memory_errors} MemoryError(s), {summary.refused} with threads "
        "refused"
    )


def format_summary(summary: Summary, details: bool = True) -> str:
    counts = summary.counts
    lines = [
        (
            f"fuzz: {summary.cases} cases in {summary.seconds:.1f} s (seed "
            f"{summary.seed}, {summary.workers} worker(s)): {counts['ok']} ok, "
            f"{counts['rejected']} raised an allowed error, {counts['expected']} "
            "invalid "
            f"refused as expected, {len(summary.failures)} failed"
        ),
        "failures by kind: "
        + ", ".join(f"{kind} {counts[kind]}" for kind in FAILURE_KINDS),
        (
            f"sparse inputs: {summary.sparse} cases, {summary.malformed} with a "
            f"malformed CSR; {summary.compared} sparse fits compared with dense twins"
        ),
        _new_loss_line(summary),
        _limits_line(summary),
        "slowest cases: "
        + ", ".join(f"{case_id} {s:.1f} s" for s, case_id in reversed(summary.slowest)),
    ]
    if summary.rejections:
        lines.append("allowed errors on valid input:")
        lines += [f"  {n:4d} x {sig}" for sig, n in summary.rejections.most_common(8)]
    groups: dict[str, list[Json]] = {}
    for failure in summary.failures:
        groups.setdefault(
            f"[{failure['kind']}] {signature(failure['message'])}", []
        ).append(failure)
    if groups:
        lines.append(f"distinct failure messages: {len(groups)}")
    for key, members in groups.items():
        smallest = min(members, key=lambda f: case_size(f["case"]))
        lines.append(f"  {len(members):4d} x {key}")
        if details:
            lines.append(f"       smallest: {smallest['message'][:400]}")
            replay = json.dumps(smallest["case"])
            lines.append(f"       python tools/fuzz --replay '{replay}'")
    if details and summary.failures:
        lines.append("all failures:")
        for f in summary.failures:
            lines.append(f"  [{f['kind']}] {f['message'][:300]}")
            lines.append(f"    {json.dumps(f['case'])}")
    return "\n".join(lines)
