"""Chapter 9's degradation and stem verdicts: recomputed from the stored numbers, and printed by the chapter."""

from __future__ import annotations

import copy

from helpers import experiment_checks as check
from course_lib.experiments import degradation, stems

NOTEBOOK = "09_resnet.ipynb"
NUMBER_WORDS = ["no", "one", "two", "three", "four", "five", "six", "seven"]


def _loss(results, name):
    return [r["train_loss"][-1] for r in results["arms"][name]]


def test_stored_degradation_results_agree_with_the_sentences():
    results = check.complete("degradation")
    assert list(results["arms"]) == ["plain-8", "residual-8", "plain-32", "residual-32"]
    comparisons = degradation.verdicts(results)
    sentences = degradation.verdict_sentences(results)
    pairs = [("plain-32", "plain-8"), ("residual-32", "residual-8"), ("plain-32", "residual-32")]
    for comparison, sentence, (a, b) in zip(comparisons.values(), sentences, pairs):
        check.agrees(comparison, _loss(results, a), _loss(results, b), sentence)
    shown = degradation.degradation_shown(results)
    deep, versus = comparisons["plain: deep vs shallow"], comparisons["deep: plain vs residual"]
    assert shown == (deep.diff > deep.noise and versus.diff > versus.noise)


def test_swapping_plain_and_residual_flips_the_verdict():
    original = check.complete("degradation")
    swapped = copy.deepcopy(original)
    arms = swapped["arms"]
    arms["plain-32"], arms["residual-32"] = arms["residual-32"], arms["plain-32"]
    key = "deep: plain vs residual"
    assert degradation.verdicts(swapped)[key].diff == -degradation.verdicts(original)[key].diff
    if degradation.degradation_shown(original):
        assert not degradation.degradation_shown(swapped)


def test_stored_stem_results_agree_with_the_sentences():
    results = check.complete("stems")
    base = [100 * r["eval_acc"][-1] for r in results["arms"][stems.LABELS["imagenet"]]]
    sentences = stems.verdict_sentences(results)
    for name, comparison in stems.verdicts(results).items():
        check.agrees(comparison, [100 * r["eval_acc"][-1] for r in results["arms"][name]], base, sentences[name])


def test_chapter_9_prints_the_computed_verdicts_and_types_none():
    check.prints_verdicts(NOTEBOOK, "degradation", "degradation")
    check.prints_verdicts(NOTEBOOK, "stems", "stems")
    check.markdown_free_of(NOTEBOOK, ["the addition\nfails. You do not need", "thousands of times larger",
                                      "within about one order of\nmagnitude", "which\n`course_lib.models` re-exports",
                                      "one of them dominates the sum"])
    check.outputs_stripped(NOTEBOOK)
    check.figures_have_alt_text(NOTEBOOK)


def test_chapter_9_describes_the_stored_run_with_its_own_numbers():
    results, medium = check.complete("degradation"), degradation.SETTINGS["medium"]
    assert results["epochs"] == medium["epochs"] and results["settings"]["train"] == medium["train"]
    assert results["settings"]["schedule"] == medium["schedule"] == "cosine"
    steps = medium["epochs"] * -(-medium["train"] // medium["batch"])
    text = " ".join(" ".join(check.source(c) for c in check.cells(NOTEBOOK) if c["cell_type"] == "markdown").split())
    for words in (f"{medium['train']:,} training images read {medium['epochs']} times", f"about {round(steps, -2):,} steps",
                  "annealed from 0.05 to zero by a cosine", f"{NUMBER_WORDS[len(medium['seeds'])]} stored"):
        assert words in text, words
