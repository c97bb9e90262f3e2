"""Chapter 8's dropout verdicts: recomputed from the stored per-seed numbers, and printed by the chapter."""

from __future__ import annotations

from helpers import experiment_checks as check
from course_lib.experiments import dropout

NOTEBOOK = "08_dropout.ipynb"


def test_stored_dropout_results_agree_with_the_sentences():
    results = check.complete("dropout")
    on, off = results["arms"]["dropout 0.5"], results["arms"]["dropout 0.0"]
    comparisons, sentences = dropout.verdicts(results), dropout.verdict_sentences(results)
    expected = {
        "gap": ([100 * (r["train_acc_eval"] - r["eval_acc"][-1]) for r in on],
                [100 * (r["train_acc_eval"] - r["eval_acc"][-1]) for r in off]),
        "accuracy": ([100 * r["eval_acc"][-1] for r in on], [100 * r["eval_acc"][-1] for r in off]),
        "loss": ([r["eval_loss"][-1] for r in on], [r["eval_loss"][-1] for r in off]),
    }
    for key, (a, b) in expected.items():
        check.agrees(comparisons[key], a, b, sentences[key])
    for name, epochs in dropout.best_epochs(results).items():
        for run, epoch in zip(results["arms"][name], epochs):
            assert run["eval_loss"][epoch - 1] == min(run["eval_loss"])


def test_chapter_8_prints_the_computed_verdicts_and_types_none():
    check.prints_verdicts(NOTEBOOK, "dropout_experiment", "dropout")
    check.markdown_free_of(NOTEBOOK, ["its gap between\ntraining and test accuracy is the larger one",
                                      "therefore use no dropout in their convolutional parts"])
    check.outputs_stripped(NOTEBOOK)
    check.figures_have_alt_text(NOTEBOOK)
