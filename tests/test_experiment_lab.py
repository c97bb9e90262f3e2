"""Chapter 10's lab, resolution and Normalize verdicts: recomputed from the stored numbers, printed by the chapter."""

from __future__ import annotations

import statistics

import pytest

from helpers import experiment_checks as check
from course_lib.experiments import lab, normalize, resolution

NOTEBOOK = "10_training_lab.ipynb"


def _val(runs):
    return [100 * r["eval_acc"][-1] for r in runs]


@pytest.mark.parametrize(("name", "module", "baseline"), [("lab", lab, "baseline"),
                                                          ("resolution", resolution, "input 32x32")])
def test_stored_lab_results_agree_with_the_sentences(name, module, baseline):
    results = check.complete(name)
    arms = results["arms"]
    sentences = module.verdict_sentences(results)
    for arm, comparison in module.verdicts(results).items():
        check.agrees(comparison, _val(arms[arm]), _val(arms[baseline]), sentences[arm])
    chosen = max(arms, key=lambda a: statistics.fmean(_val(arms[a])))
    assert lab.chosen(results) == chosen
    assert f"validation accuracy: {chosen}." in lab.final_report(results)
    assert all("test_acc" in r for runs in arms.values() for r in runs)  # the test set is read, once, at the end


def test_the_lab_runs_the_recipe_it_describes():
    results = check.complete("lab")
    base = results["configurations"]["baseline"]
    assert base["augment"] and base["weight_decay"] == 5e-4 and base["momentum"] == 0.9
    assert base["schedule"] == "cosine" and base["batch_norm"]
    assert set(results["arms"]) == set(lab.CHANGES)
    for arm, change in lab.CHANGES.items():
        config = results["configurations"][arm]
        assert all(config[k] == v for k, v in change.items()), arm


def test_stored_normalize_results_agree_with_the_sentences():
    results = check.complete("normalize")
    arms = results["arms"]
    sentences = normalize.verdict_sentences(results)
    for key, comparison in normalize.verdicts(results).items():
        other, when = key.split(" vs ", 1)[1].rsplit(", ", 1)
        epoch = 0 if when == "after one epoch" else -1
        a = [100 * r["eval_acc"][epoch] for r in arms[normalize.ARMS[2]]]
        b = [100 * r["eval_acc"][epoch] for r in arms[other]]
        check.agrees(comparison, a, b, sentences[key])


def test_chapter_10_prints_the_computed_verdicts_and_types_none():
    for alias, name in (("lab", "lab"), ("resolution", "resolution"), ("normalize", "normalize")):
        if name == "resolution":
            assert "resolution.verdict_sentences(" in "".join(
                check.source(c) for c in check.cells(NOTEBOOK) if c["cell_type"] == "code")
        else:
            check.prints_verdicts(NOTEBOOK, alias, name)
    check.markdown_free_of(NOTEBOOK, ["What the full-scale experiment typically shows", "the run without it shows them",
                                      "within the noise of a different seed", "usually gains little"])
    check.outputs_stripped(NOTEBOOK)
    check.figures_have_alt_text(NOTEBOOK)
