"""Mutation testing of the recovery and index modules (`make mutation`; not part of CI).

Runs mutmut over the modules listed under [tool.mutmut] in pyproject.toml, with the unit,
property and crash suites bounded (fewer Hypothesis examples, 300 crash states, 2 real kills) so
that one pass over every mutant fits in a few hours on two cores. Prints the score, killed over
all mutants that ran (timeouts count as killed, as mutmut counts them; mutants no test reaches
count as survivors), and lists the survivors. Exits 1 below the 85% target.

Usage: python scripts/mutation.py [--max-children N] [--target 0.85]
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOUNDS = {"HYPOTHESIS_PROFILE": "mutation", "FLYQ_CRASH_STATES": "300", "FLYQ_KILL_RUNS": "2"}
KILLED = {"killed", "timeout"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--target", type=float, default=0.85)
    args = parser.parse_args()
    env = {**os.environ, **BOUNDS}
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    run = subprocess.run([mutmut, "run", "--max-children", str(args.max_children)], cwd=ROOT,
                         env=env, check=False)
    if run.returncode not in (0, 1):
        print(f"mutmut run failed with exit code {run.returncode}", file=sys.stderr)
        return 2
    listing = subprocess.run([mutmut, "results", "--all", "true"], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True).stdout
    statuses: dict[str, str] = {}
    for line in listing.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            statuses[name] = status
    counts = collections.Counter(statuses.values())
    considered = {n: s for n, s in statuses.items() if s not in {"skipped", "not checked"}}
    killed = sum(1 for s in considered.values() if s in KILLED)
    score = killed / len(considered) if considered else 0.0
    print("\nmutation results:", dict(sorted(counts.items())))
    print(f"score: {killed}/{len(considered)} = {score:.1%} (target {args.target:.0%})")
    survivors = sorted(n for n, s in considered.items() if s not in KILLED)
    if survivors:
        print("surviving mutants (inspect with `mutmut show NAME`):")
        for name in survivors:
            print(f"  {name}: {considered[name]}")
    return 0 if score >= args.target else 1


if __name__ == "__main__":
    raise SystemExit(main())
