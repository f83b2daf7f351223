"""Mutation testing, one shard per module group (`make mutation`; not part of CI).

The shards are the [tool.mutmut.shards.*] tables of pyproject.toml: each names the modules it
mutates, the test files that exercise them (the only tests its mutants run against) and its crash
state count. Each shard runs mutmut in its own work directory, build/mutation/SHARD, holding a copy
of the sources with the shard's settings written into [tool.mutmut], so shards never share
results and can run side by side. A shard resumes where it stopped while no source or test file
changed; any change starts it afresh, as mutmut alone would keep stale copies of unmutated modules.

Hypothesis runs under the `mutation` profile. Prints, per module, the score (killed over all
mutants that ran; timeouts count as killed, as mutmut counts them; mutants no test reaches count as
survivors), the wall time of the shard, and the survivors grouped by function. Exits 1 when a
module is below the target.

Usage: python scripts/mutation.py [MODULE_OR_SHARD ...] [--max-children N] [--target 0.85]
       [--fresh] [--limit N]
  MODULE_OR_SHARD: a module path (flyq/impl/topic.py) or a shard name (topic); default all.
  --limit N: test only N mutants of each module, spread over its functions (a sample to time
             a shard; its score is not the module's).
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
COPIED = ("flyq", "tests", "spec", "scripts")
KILLED = {"killed", "timeout", "caught by type check"}
NOT_RUN = {"skipped", "not checked"}
# mutmut marks methods as x<SEP>Class<SEP>method and functions as x_function.
CLASS_SEPARATOR = "\u01c1"


def load_settings() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        settings: dict[str, object] = tomllib.load(file)["tool"]["mutmut"]
    return settings


def select_shards(
    shards: Mapping[str, Mapping[str, object]], wanted: Sequence[str]
) -> dict[str, list[str]]:
    """Shard name -> the modules of it to mutate, for the modules or shard names asked for."""
    if not wanted:
        return {name: list(_strings(shard["modules"])) for name, shard in shards.items()}
    selected: dict[str, list[str]] = {}
    for item in wanted:
        module = item.removeprefix("./")
        found = False
        for name, shard in shards.items():
            modules = list(_strings(shard["modules"]))
            if item == name or module in modules:
                chosen = modules if item == name else [module]
                selected.setdefault(name, [])
                selected[name] += [m for m in chosen if m not in selected[name]]
                found = True
        if not found:
            raise SystemExit(f"{item}: neither a shard ({', '.join(shards)}) nor a module of one")
    return selected


def _strings(value: object) -> Iterable[str]:
    assert isinstance(value, list), value
    return [str(item) for item in value]


def _fingerprint(pyproject: str) -> str:
    """What a shard's results depend on: its settings and every copied file but this script."""
    digest = hashlib.sha256(pyproject.encode())
    for top in COPIED:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path != Path(__file__).resolve():
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def _shard_pyproject(common: Mapping[str, object], modules: Sequence[str],
                     tests: Sequence[str]) -> str:
    """pyproject.toml with [tool.mutmut*] replaced by the shard's own [tool.mutmut]."""
    kept: list[str] = []
    skipping = False
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("["):
            skipping = line.startswith("[tool.mutmut")
        if not skipping:
            kept.append(line)
    table = {key: value for key, value in common.items() if key != "shards"}
    table |= {"only_mutate": list(modules), "pytest_add_cli_args_test_selection": list(tests)}
    # JSON numbers, booleans and arrays of plain strings are valid TOML.
    kept += ["[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    return "\n".join(kept) + "\n"


def prepare(name: str, common: Mapping[str, object], modules: Sequence[str],
            tests: Sequence[str], *, fresh: bool) -> Path:
    """Lay out build/mutation/NAME for one run, keeping results only if nothing changed."""
    directory = WORK / name
    pyproject = _shard_pyproject(common, modules, tests)
    fingerprint = _fingerprint(pyproject)
    stamp = directory / "fingerprint"
    if fresh or not stamp.exists() or stamp.read_text() != fingerprint:
        shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, exist_ok=True)
    for top in COPIED:
        shutil.rmtree(directory / top, ignore_errors=True)
        shutil.copytree(ROOT / top, directory / top,
                        ignore=shutil.ignore_patterns("__pycache__", ".hypothesis"))
    (directory / "pyproject.toml").write_text(pyproject)
    stamp.write_text(fingerprint)
    return directory


def _mutmut(directory: Path, args: Sequence[str], env: Mapping[str, str], *,
            capture: bool = False) -> subprocess.CompletedProcess[str]:
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    return subprocess.run([mutmut, *args], cwd=directory, env=dict(env), text=True,
                          capture_output=capture, check=False)


def statuses(directory: Path, env: Mapping[str, str]) -> dict[str, str]:
    listing = _mutmut(directory, ["results", "--all", "true"], env, capture=True)
    if listing.returncode != 0:
        raise SystemExit(f"mutmut results failed in {directory}:\n{listing.stderr}")
    found: dict[str, str] = {}
    for line in listing.stdout.splitlines():
        mutant, sep, status = line.strip().rpartition(": ")
        if sep:
            found[mutant] = status
    return found


def module_of(mutant: str) -> str:
    """flyq.impl.topic.xǁTopicǁclose__mutmut_3 -> flyq/impl/topic.py"""
    return mutant.partition("__mutmut_")[0].rpartition(".")[0].replace(".", "/") + ".py"


def function_of(mutant: str) -> str:
    """flyq.impl.topic.xǁTopicǁclose__mutmut_3 -> Topic.close; ...x_validate__mutmut_1 -> validate"""
    mangled = mutant.partition("__mutmut_")[0].rpartition(".")[2]
    if CLASS_SEPARATOR in mangled:
        return ".".join(mangled.split(CLASS_SEPARATOR)[1:])
    return mangled.removeprefix("x_")


def _mutant_number(mutant: str) -> int:
    return int(mutant.rpartition("__mutmut_")[2])


def report(module: str, found: Mapping[str, str], seconds: float, target: float) -> bool:
    """Print one module's score and survivors; True if it meets the target."""
    mine = {m: s for m, s in found.items() if module_of(m) == module}
    counts = collections.Counter(mine.values())
    considered = {m: s for m, s in mine.items() if s not in NOT_RUN}
    killed = sum(1 for s in considered.values() if s in KILLED)
    score = killed / len(considered) if considered else 0.0
    print(f"\n== {module}: {dict(sorted(counts.items()))}")
    per_mutant = seconds / len(considered) if considered else 0.0
    print(f"score: {killed}/{len(considered)} = {score:.1%} (target {target:.0%}); "
          f"shard wall time {seconds:.0f} s, {per_mutant:.2f} s per mutant tested "
          "(exact only on a fresh run)")
    by_function: dict[str, list[str]] = collections.defaultdict(list)
    for mutant, status in considered.items():
        if status not in KILLED:
            by_function[function_of(mutant)].append(f"{_mutant_number(mutant)} ({status})")
    if by_function:
        print("surviving mutants by function (inspect with `mutmut show NAME` in "
              f"{WORK.relative_to(ROOT)}/SHARD):")
        for function in sorted(by_function):
            survivors = sorted(by_function[function], key=lambda s: int(s.split()[0]))
            print(f"  {function}: {', '.join(survivors)}")
    return score >= target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wanted", nargs="*", metavar="MODULE_OR_SHARD")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--target", type=float, default=0.85)
    parser.add_argument("--fresh", action="store_true", help="discard earlier results")
    parser.add_argument("--limit", type=int, default=None,
                        help="test only N mutants of each module, spread over its functions")
    args = parser.parse_args()
    settings = load_settings()
    shards = settings["shards"]
    assert isinstance(shards, dict), shards
    all_met = True
    for name, modules in select_shards(shards, args.wanted).items():
        shard = shards[name]
        tests = [t for t in _strings(shard["tests"]) if (ROOT / t).exists()]
        env = {**os.environ, "HYPOTHESIS_PROFILE": "mutation",
               "FLYQ_CRASH_STATES": str(shard["crash_states"]),
               "FLYQ_KILL_RUNS": str(shard.get("kill_runs", 1))}
        env.pop("PYTHONPATH", None)  # the shard's copy, not a checkout, is what mutmut mutates
        directory = prepare(name, settings, modules, tests, fresh=args.fresh)
        print(f"\n### shard {name}: {', '.join(modules)} against {', '.join(tests)}", flush=True)
        names: list[str] = []
        if args.limit is not None:
            # Generate the mutants (mutmut refuses the pattern that matches none, after generating
            # them), then pick N per module spread evenly over its functions.
            _mutmut(directory, ["run", "--max-children", str(args.max_children), "none.x_none*"],
                    env, capture=True)
            found = statuses(directory, env)
            for module in modules:
                ordered = sorted((m for m in found if module_of(m) == module),
                                 key=lambda m: (function_of(m), _mutant_number(m)))
                step = max(1, len(ordered) // args.limit)
                names += ordered[::step][: args.limit]
            if not names:
                raise SystemExit(f"no mutants generated for {', '.join(modules)}")
        started = time.monotonic()
        run = _mutmut(directory, ["run", "--max-children", str(args.max_children), *names], env)
        seconds = time.monotonic() - started
        if run.returncode not in (0, 1):
            print(f"mutmut run failed with exit code {run.returncode}", file=sys.stderr)
            return 2
        found = statuses(directory, env)
        for module in modules:
            all_met = report(module, found, seconds, args.target) and all_met
    return 0 if all_met else 1


if __name__ == "__main__":
    raise SystemExit(main())
