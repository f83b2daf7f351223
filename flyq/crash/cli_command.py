"""`python -m flyq.crash`: explore post-crash disks of the partition log from the command line.

A thin wrapper over `flyq.crash.explore` (spec/crash-model.md): it explores, optionally proves
that each deliberately broken recovery is caught (CM-9), and prints a summary table on stdout
(the progress bar goes to stderr). Exit code 1 if any crash state broke a promise or any broken
variant slipped through. Every run replays from the seed and options it prints.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import click

from flyq.crash.disk import MODES
from flyq.crash.explorer import ExplorationReport, ExplorationSettings, Violation, explore
from flyq.crash.variants import BROKEN_VARIANTS, BrokenVariant
from flyq.crash.workload import WORKLOAD_KINDS

__all__ = ["crash_test", "main"]

# The explorer's own defaults: three workloads of each size give over 20000 distinct states.
_DEFAULTS = ExplorationSettings()
_LABEL_WIDTH = 36


def _parse_modes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    modes = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [mode for mode in modes if mode not in MODES]
    if not modes or unknown:
        raise click.BadParameter(f"{', '.join(unknown) or 'nothing'}: modes are "
                                 f"{', '.join(MODES)}")
    return modes


def _parse_sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or any(size < 1 for size in sizes):
        raise click.BadParameter(f"{value!r}: give comma-separated integers >= 1, e.g. 2,4,7,10")
    return sizes


def _parse_kinds(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    kinds = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [kind for kind in kinds if kind not in WORKLOAD_KINDS]
    if not kinds or unknown:
        raise click.BadParameter(f"{', '.join(unknown) or 'nothing'}: kinds are "
                                 f"{', '.join(WORKLOAD_KINDS)}")
    return kinds


@contextmanager
def _quiet_recovery() -> Iterator[None]:
    """Every unclean open logs a warning on `flyq.recovery`; here thousands are expected."""
    recovery_logger = logging.getLogger("flyq.recovery")
    level = recovery_logger.level
    recovery_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        recovery_logger.setLevel(level)


def _explore_with_bar(settings: ExplorationSettings, label: str,
                      variant: BrokenVariant | None = None) -> ExplorationReport:
    """`explore`, its progress shown on stderr; with `variant`, that broken recovery switched in."""
    policy = variant.policy if variant is not None else None
    wrap = variant.wrap if variant is not None else None
    with click.progressbar(length=settings.max_states, label=label, file=sys.stderr) as bar:
        return explore(settings, policy=policy, wrap=wrap, progress=bar.update)


def _row(label: str, value: object) -> str:
    return f"  {label:<{_LABEL_WIDTH}}{value}"


def _violation_lines(violations: list[Violation]) -> list[str]:
    return [f"    {number}. {violation.reproduction()}"
            for number, violation in enumerate(violations, 1)]


def _variant_lines(variant: BrokenVariant, report: ExplorationReport) -> list[str]:
    if not report.violations:
        return [_row(variant.name, f"NOT CAUGHT in {report.distinct_states} states")]
    return [_row(variant.name, f"caught after {report.distinct_states} states"),
            f"    {report.violations[0].reproduction()}"]


@click.command("crash-test")
@click.option("--states", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Distinct post-crash disks to check (per run; each variant gets as many).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of every workload and random choice; the same seed replays the run.")
@click.option("--modes", default=",".join(MODES), show_default=True, callback=_parse_modes,
              help="Crash modes to explore, comma-separated.")
@click.option("--workload-sizes", default="2,4,7,10", show_default=True, callback=_parse_sizes,
              help="Appends per workload, comma-separated; smallest are explored first.")
@click.option("--workloads-per-size", type=click.IntRange(min=1),
              default=_DEFAULTS.workloads_per_size, show_default=True,
              help="Seeded workloads of each size.")
@click.option("--workload-kinds", default=",".join(WORKLOAD_KINDS), show_default=True,
              callback=_parse_kinds,
              help="Workload kinds, taken in turn for each size: plain appends, a leader "
                   "moving epochs, a replica with an explicit high watermark.")
@click.option("--variants", is_flag=True,
              help="Also run every deliberately broken recovery and show that it is caught.")
@click.pass_context
def crash_test(ctx: click.Context, states: int, seed: int, modes: tuple[str, ...],
               workload_sizes: tuple[int, ...], workloads_per_size: int,
               workload_kinds: tuple[str, ...], variants: bool) -> None:
    """Crash the partition log at every operation of seeded workloads, in every crash mode,
    recover each post-crash disk with the real code and check it against the model
    (spec/crash-model.md). Exit code 1 if any promise is broken or any variant is not caught."""
    settings = ExplorationSettings(seed=seed, max_states=states, modes=modes,
                                   workload_sizes=workload_sizes,
                                   workloads_per_size=workloads_per_size,
                                   workload_kinds=workload_kinds)
    started = time.monotonic()
    with _quiet_recovery():
        report = _explore_with_bar(settings, "exploring")
        variant_reports: list[tuple[BrokenVariant, ExplorationReport]] = []
        if variants:
            # A variant needs one violation to be caught; the first is the smallest reproduction.
            first_only = attrs.evolve(settings, stop_at_first_violation=True)
            variant_reports = [
                (variant, _explore_with_bar(first_only, f"variant: {variant.name}", variant))
                for variant in BROKEN_VARIANTS
            ]
    elapsed = time.monotonic() - started

    replay = (f"python -m flyq.crash --seed {seed} --states {states} --modes {','.join(modes)} "
              f"--workload-sizes {','.join(map(str, workload_sizes))} "
              f"--workloads-per-size {workloads_per_size} "
              f"--workload-kinds {','.join(workload_kinds)}" + (" --variants" if variants else ""))
    lines = ["crash-test summary"]
    lines.extend(_row(f"crash states explored ({mode})", report.states.get(mode, 0))
                 for mode in modes)
    lines.append(_row("crash states during recovery", report.recovery_crash_states))
    lines.append(_row("distinct crash states in all", report.distinct_states))
    if report.distinct_states < states:
        lines.append(_row("", f"(fewer than --states {states}: these workloads have no more)"))
    lines.append(_row("recoveries run", report.recoveries))
    lines.append(_row("workloads", report.workloads))
    lines.extend(_row(f"crash states checked ({kind})", report.states_by_kind.get(kind, 0))
                 for kind in workload_kinds)
    lines.append(_row("violations", len(report.violations)))
    lines.extend(_violation_lines(report.violations))
    if variants:
        caught = sum(1 for _, variant_report in variant_reports if variant_report.violations)
        lines.append(_row("broken variants caught", f"{caught} of {len(variant_reports)}"))
        for variant, variant_report in variant_reports:
            lines.extend(_variant_lines(variant, variant_report))
    lines.append(_row("wall time", f"{elapsed:.1f} s"))
    lines.append(_row("seed", seed))
    lines.append(_row("replay", replay))
    click.echo("\n".join(lines))
    if report.violations or any(not r.violations for _, r in variant_reports):
        ctx.exit(1)


def main() -> None:
    """Entry point of `python -m flyq.crash`."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    crash_test.main(prog_name="python -m flyq.crash")
