"""``python -m course_lib.experiments NAME [--scale tiny|fast|medium|full]``: run one experiment, store its results.

Resumable: every finished (arm, seed) is written at once to ``book/results/runs/NAME-SCALE/`` and skipped
by the next call, which trains only what is missing; the combined ``book/results/NAME-SCALE.json`` is
rebuilt from those files each time all of them exist. Interrupt it whenever: what finished stays stored.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

from course_lib.settings import full_mode

import torch

from . import SCALES, _training, available, cost, plan, regimes, runs, store


THREADS_ENV = "COURSE_EXPERIMENT_THREADS"


def threads() -> int:
    """Torch threads per run: $COURSE_EXPERIMENT_THREADS, default 1. On the shared 2-core machine one thread
    trained the experiments' nets 3x or more faster than torch's default of two (bench/README.md); run two jobs
    (COURSE_EXPERIMENT_JOBS=2) to use both cores. On a free many-core machine, set more."""
    return max(1, int(os.environ.get(THREADS_ENV, "1") or 1))


def measured_cost(module, scale: str) -> dict | None:
    """The experiment's cost section (`cost.section`), for those that print a cost comparison."""
    if not hasattr(module, "cost_configs"):
        return None
    reference, configs = module.cost_configs(scale)
    options = dict(rounds=1, seconds=0.05) if scale == "tiny" else {}
    return cost.section(configs, reference, getattr(module, "COST_NOTES", {}), **options)


def add_cost(name: str, scale: str, out: str | None = None) -> str:
    """Measure the cost section again and put it into the stored results file, leaving the runs as they are."""
    module = importlib.import_module(f"{__package__}.{name}")
    section = measured_cost(module, scale)
    if section is None:
        raise SystemExit(f"{name} prints no cost comparison (it has no cost_configs); nothing to measure")
    path = store.add_section(name, scale, "measured_cost", section, out=out, commit=store.current_commit())
    print("\n".join(cost.lines(section)))
    return str(path)


def _module(name: str, scale: str):
    module = importlib.import_module(f"{__package__}.{name}")
    settings = getattr(module, "SETTINGS", None)
    if isinstance(settings, dict) and scale not in settings:
        raise SystemExit(f"{name} has no {scale!r} scale (it has: {', '.join(settings)}); choose one of those")
    return module


def run_one(name: str, scale: str, *, argv: list[str], out: str | None = None, runs_dir: str | None = None,
            import_stored: bool = False, regime: bool = False) -> str:
    """Run (or complete) one experiment at `scale` and write its combined results file; returns its path.

    regime=True first puts the configured regime's settings (`regimes.TARGETS`) into the experiment's settings;
    its runs then go to their own folder (runs/NAME-SCALE-regime/), apart from runs made with other settings.
    """
    module = _module(name, scale)
    started, commit = time.time(), store.current_commit()
    entry = regimes.apply(module, name, scale) if regime else regimes.target(name, scale)
    folder = runs_dir or runs.default_dir(name, f"{scale}-regime" if regime else scale, out)
    settings = module.SETTINGS[scale] if hasattr(module, "SETTINGS") else None
    run_store = runs.RunStore(folder, commit=commit, settings=settings)
    if import_stored:
        source = Path(out) if out else store.path_for(name, scale)
        count = runs.import_combined(json.loads(source.read_text()), run_store,
                                     os.path.relpath(source, store.REPO))
        print(f"imported {count} runs from {source}", flush=True)
    torch.set_num_threads(threads())
    with runs.storing(run_store):
        results = module.run(scale)
    if entry is not None:
        applied = regime or regimes.matches(entry, settings)
        results["regime"] = {**entry, "applied": applied,
                             "meaning": "the settings above were run" if applied else
                                        "the regime this experiment should be run in; these results used the "
                                        "scale's own settings (see results['settings'])"}
    section = measured_cost(module, scale)
    if section is not None:
        results["measured_cost"] = section
    extra = {"threads": torch.get_num_threads(), "trainer_defaults": dict(_training.TRAINER_DEFAULTS)}
    stored_before, trained_now = run_store.counts()
    extra.update(runs_dir=os.path.relpath(run_store.directory, store.REPO),
                 runs_loaded=stored_before, runs_trained=trained_now)
    loaded = f"; {stored_before} runs were stored already, {trained_now} trained now"
    path = store.save(name, scale, results, started=started, argv=argv, out=out, commit=commit, extra=extra)
    print(f"{name} ({scale}): {time.time() - started:.0f} s{loaded}; results in {path}", flush=True)
    return str(path)


def plan_one(name: str, scale: str, *, out: str | None = None, runs_dir: str | None = None,
             regime: bool = False) -> list[plan.Planned]:
    """The runs `run_one` would train (those its runs folder does not hold yet), without training or writing."""
    module = _module(name, scale)
    if regime:
        regimes.apply(module, name, scale)
    folder = runs_dir or runs.default_dir(name, f"{scale}-regime" if regime else scale, out)
    run_store = runs.RunStore(folder, settings=module.SETTINGS[scale] if hasattr(module, "SETTINGS") else None)
    with runs.storing(run_store), plan.planning(name) as planned:
        module.run(scale)
    return planned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_lib.experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", help="experiment to run, or 'all' for every one in turn (omit to list them)")
    parser.add_argument("--scale", choices=SCALES, default=None,
                        help="tiny (the test suite's end-to-end check), fast (the chapter's live run), "
                             "medium (CPU, hours over sessions) or full (GPU); default: full when COURSE_FULL is on (1/true/yes), else medium")
    parser.add_argument("--out", default=None, help="results file (default: book/results/NAME-SCALE.json)")
    parser.add_argument("--results-dir", default=None, help="with 'all': folder for the results files "
                        "(default: book/results/)")
    parser.add_argument("--runs-dir", default=None,
                        help="folder of the per-run files (default: runs/NAME-SCALE/ beside the results file)")
    parser.add_argument("--import-stored", action="store_true",
                        help="first copy the runs of the existing combined results file into the runs folder "
                             "(marked as imported), so that only runs it lacks are trained")
    parser.add_argument("--regime", action="store_true",
                        help="run in the regime configured in course_lib/experiments/regimes.py (data size, width, "
                             "epochs), with its runs in their own folder")
    parser.add_argument("--plan", action="store_true",
                        help="train nothing: list the runs still to train (stored ones are skipped), their images and "
                             "multiply-adds, and an estimate of the minutes they need at --plan-rate")
    parser.add_argument("--plan-rate", type=float, default=plan.TARGET_IMAGES_PER_SECOND,
                        help="training images per second of the lab's baseline (resnet18_cifar width 64, 32x32) "
                             "that --plan's minutes assume (default: %(default).0f, the H100 target, not measured)")
    parser.add_argument("--plan-step-ms", type=float, default=plan.STEP_MS,
                        help="milliseconds per training step that --plan assumes for networks too small to be "
                             "bound by their arithmetic (default: %(default)g)")
    parser.add_argument("--cost-only", action="store_true",
                        help="measure only the cost section (CPU time per image, one configuration at a time) "
                             "and add it to the stored results file")
    args = parser.parse_args(argv)
    argv_used = sys.argv if argv is None else ["course_lib.experiments", *argv]
    names = available()
    if not args.name:
        print("experiments:", ", ".join(names))
        return 0
    if args.name not in names and args.name != "all":
        parser.error(f"unknown experiment {args.name!r}; choose one of: {', '.join(names)}, or all")
    scale = args.scale or ("full" if full_mode() else "medium")
    if args.name == "all" and (args.out or args.runs_dir or args.cost_only or args.import_stored):
        parser.error("with 'all', give no --out, --runs-dir, --cost-only or --import-stored (each experiment "
                     "writes its own files); use --results-dir to put them elsewhere")
    if args.plan and (args.cost_only or args.import_stored):
        parser.error("--plan trains nothing and writes nothing; give it without --cost-only or --import-stored")

    def out_for(name: str) -> str | None:
        """The results file of `name`: --out for one experiment, else in --results-dir (default: book/results/)."""
        if args.name != "all":
            return args.out
        return str(Path(args.results_dir) / f"{name}-{scale}.json") if args.results_dir else None

    chosen = names if args.name == "all" else [args.name]
    if args.plan:
        planned = [run for name in chosen
                   for run in plan_one(name, scale, out=out_for(name), runs_dir=args.runs_dir, regime=args.regime)]
        print(f"plan for --scale {scale}: runs not stored yet")
        print("\n".join(plan.table(planned, args.plan_rate, args.plan_step_ms)))
        return 0
    if args.name == "all":
        for name in names:
            run_one(name, scale, argv=[*argv_used[:1], name, "--scale", scale], out=out_for(name), regime=args.regime)
        return 0
    if args.cost_only:
        add_cost(args.name, scale, out=args.out)
    else:
        run_one(args.name, scale, argv=argv_used, out=args.out, runs_dir=args.runs_dir,
                import_stored=args.import_stored, regime=args.regime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
