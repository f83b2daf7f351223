"""Check the model's PEP 316 contracts with CrossHair, within a bounded time.

Usage: `python scripts/check_contracts.py [--per-condition-timeout S] [--total-timeout S]`

Finds every function in the model modules whose docstring states `post:` contracts, splits each
module's functions into one group per CPU, and runs `crosshair check --analysis_kind=PEP316` on the
groups, two at a time on a 2-core machine. Exits 0 when CrossHair reports no counterexample, 1 when
it reports any (a broken postcondition, an undeclared exception, an unparsable contract), and 2 when
it could not run or overran the total time. "Not confirmed" means no counterexample was found within
the budget: loops over tuples make most paths unbounded, so exhaustive confirmation is not expected.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# CPU seconds CrossHair may spend on each postcondition, per module. The cores in `_core` take ints
# and tuples of ints, which CrossHair explores well: they get the larger budget. The whole-state
# contracts in `_state` are mostly beyond CrossHair's reach (tests/unit/test_model.py evaluates them
# on Hypothesis-drawn states instead), so a short look for gross errors is all they get here.
# The epoch-cache functions in `_epochs` work on tuples of pairs, where paths multiply quickly:
# 1 s each finds shallow counterexamples and keeps the whole run inside its time cap.
MODULE_BUDGETS = {"flyq.model._core": 2.0, "flyq.model._epochs": 1.0, "flyq.model._state": 0.5}
DEFAULT_BUDGET = 1.0
POST_LINE = re.compile(r"^\s*post\s*:", re.MULTILINE)
REPORT_LINE = re.compile(r"^(?P<path>[^\n]+?):(?P<line>\d+): (?P<level>info|error): (?P<text>.*)$")


@dataclass
class Task:
    """One `crosshair check` run: some functions of one module, with that module's budget."""

    functions: list[str]
    per_condition_timeout: float
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""


def contracted_functions(module_name: str) -> list[tuple[str, int]]:
    """(qualified name, number of postconditions) of each function in the module stating any."""
    module = importlib.import_module(module_name)
    found: list[tuple[str, int]] = []
    members: list[tuple[str, Callable[..., object]]] = inspect.getmembers(module, inspect.isfunction)
    for name, function in members:
        if function.__module__ != module_name:
            continue
        conditions = len(POST_LINE.findall(inspect.getdoc(function) or ""))
        if conditions:
            found.append((f"{module_name}.{name}", conditions))
    return found


def split(functions: list[tuple[str, int]], groups: int) -> list[list[str]]:
    """Spread functions over `groups` so each group has about as many conditions to check."""
    buckets: list[tuple[int, list[str]]] = [(0, []) for _ in range(groups)]
    for name, weight in sorted(functions, key=lambda item: -item[1]):
        index = min(range(groups), key=lambda i: buckets[i][0])
        total, names = buckets[index]
        buckets[index] = (total + weight, [*names, name])
    return [names for _, names in buckets if names]


def run(task: Task, env: dict[str, str], per_path_timeout: float, deadline: float) -> Task:
    """Run CrossHair on the task's functions; a run past the deadline is killed (returncode -1)."""
    command = [
        sys.executable,
        "-m",
        "crosshair",
        "check",
        "--analysis_kind=PEP316",
        "--report_all",
        f"--per_condition_timeout={task.per_condition_timeout}",
        f"--per_path_timeout={min(per_path_timeout, task.per_condition_timeout)}",
        *task.functions,
    ]
    try:
        completed = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=max(1.0, deadline - time.monotonic()),
            check=False,
        )
    except subprocess.TimeoutExpired:
        task.returncode = -1
        return task
    task.returncode, task.stdout, task.stderr = (
        completed.returncode,
        completed.stdout,
        completed.stderr,
    )
    return task


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--per-condition-timeout",
        type=float,
        default=None,
        help="CPU seconds per postcondition for every module (default: per-module budgets)",
    )
    parser.add_argument("--per-path-timeout", type=float, default=0.5)
    # The model takes about 40 s of wall clock on an idle 2-core machine: this is a hang guard.
    parser.add_argument("--total-timeout", type=float, default=120.0)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument(
        "--module",
        action="append",
        dest="modules",
        help=f"module to check (repeatable; default: {', '.join(MODULE_BUDGETS)})",
    )
    args = parser.parse_args()
    jobs = max(1, args.jobs)

    sys.path.insert(0, str(ROOT))
    tasks: list[Task] = []
    print("check_contracts: functions with PEP 316 contracts:")
    for module_name in args.modules or list(MODULE_BUDGETS):
        try:
            functions = contracted_functions(module_name)
        except ImportError as exc:
            print(f"check_contracts: cannot import {module_name}: {exc}", file=sys.stderr)
            return 2
        budget = args.per_condition_timeout or MODULE_BUDGETS.get(module_name, DEFAULT_BUDGET)
        for name, conditions in functions:
            print(f"  {name} ({conditions} postconditions, {budget} s each)")
        tasks.extend(Task(group, budget) for group in split(functions, jobs))
    if not tasks:
        print("check_contracts: no contracts found: nothing would be checked", file=sys.stderr)
        return 2

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    started = time.monotonic()
    deadline = started + args.total_timeout
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        done = list(pool.map(lambda task: run(task, env, args.per_path_timeout, deadline), tasks))
    elapsed = time.monotonic() - started

    confirmed = unrefuted = 0
    errors: list[str] = []
    failed_to_run = False
    for task in done:
        if task.returncode == -1:
            print(f"check_contracts: overran {args.total_timeout:.0f} s: {task.functions}")
            failed_to_run = True
            continue
        reported = False
        for line in task.stdout.splitlines():
            match = REPORT_LINE.match(line)
            if match is None:
                continue
            reported = True
            if match["level"] == "error":
                errors.append(line)
            elif "Confirmed over all paths" in match["text"]:
                confirmed += 1
            else:
                unrefuted += 1
                if "Unable to meet precondition" in match["text"]:
                    print(f"check_contracts: warning: vacuous within budget: {line}")
        if task.returncode == 1 and not errors:
            errors.append(f"crosshair exited 1 on {task.functions} without a report line")
        if task.returncode not in (0, 1) or (task.returncode == 1 and not reported):
            # CrossHair itself failed (not installed, import error, bad option): show why.
            print(task.stdout + task.stderr, file=sys.stderr)
            failed_to_run = True

    print(
        f"check_contracts: {confirmed} conditions confirmed over all paths, "
        f"{unrefuted} not refuted within budget, "
        f"{len(errors)} counterexamples or contract errors ({elapsed:.0f} s wall clock)"
    )
    for line in errors:
        print(line)
    if errors:
        return 1
    return 2 if failed_to_run else 0


if __name__ == "__main__":
    sys.exit(main())
