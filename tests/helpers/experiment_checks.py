"""Checks the book's verdict tests share (tests/test_experiment_*.py): stored results are complete and
carry provenance, each sentence agrees with a recomputation from the raw per-seed numbers, and a chapter
prints its verdicts through the experiment module instead of typing them."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from scipy import stats as scipy_stats

from course_lib.experiments import stats, store

BOOK = store.REPO / "book"
PROVENANCE_KEYS = {"command", "commit", "device", "torch", "python", "started", "wall_seconds"}


def complete(name: str, scale: str = "medium", min_seeds: int = 3) -> dict[str, Any]:
    """Load stored results and assert they have provenance, every arm every seed, and curves per epoch."""
    stored = store.load(name, scale)
    assert stored["experiment"] == name and stored["scale"] == scale
    assert PROVENANCE_KEYS <= stored["provenance"].keys(), stored["provenance"].keys()
    assert stored["provenance"]["command"].endswith((f"{name} --scale {scale}", f"{name} --scale {scale} --regime"))
    results = stored["results"]
    assert len(results["seeds"]) >= min_seeds, f"{name}: {len(results['seeds'])} seeds, need {min_seeds}"
    assert results["data"], "the data description is missing"
    for arm, runs in results["arms"].items():
        assert [r["seed"] for r in runs] == results["seeds"], f"{arm}: seeds {[r['seed'] for r in runs]}"
        for r in runs:
            assert len(r["eval_acc"]) == len(r["train_loss"]) == results["epochs"], arm
    return results


def agrees(comparison: stats.Comparison, a: list[float], b: list[float], sentence: str) -> None:
    """Recompute the comparison with scipy's own Welch test and check the sentence says the same.

    The interval comes from `scipy.stats.ttest_ind(equal_var=False).confidence_interval()`, not from
    `stats`, so a wrong quantile or a wrong degrees-of-freedom formula in `stats` fails here.
    """
    diff = statistics.fmean(a) - statistics.fmean(b)
    test = scipy_stats.ttest_ind(a, b, equal_var=False)
    interval = test.confidence_interval(stats.CONFIDENCE)
    noise = (interval.high - interval.low) / 2
    assert math.isclose(comparison.diff, diff, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(comparison.noise, noise, rel_tol=1e-9, abs_tol=1e-12)
    assert (interval.low > 0 or interval.high < 0) == (test.pvalue < 1 - stats.CONFIDENCE)
    if test.pvalue < 1 - stats.CONFIDENCE:
        assert "beats" in sentence, sentence
    else:
        assert "within seed noise" in sentence, sentence
    assert "Welch" in sentence, sentence  # the rule is named where the verdict is printed
    assert any(f"{abs(diff):.{d}f}" in sentence and f"±{noise:.{d}f}" in sentence for d in (1, 3)), sentence


def cells(notebook: str) -> list[dict[str, Any]]:
    return json.loads((BOOK / notebook).read_text())["cells"]


def source(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


def prints_verdicts(notebook: str, module_alias: str, experiment: str) -> None:
    """The chapter loads the stored results, prints their provenance and calls the module's verdict function."""
    code = "\n".join(source(c) for c in cells(notebook) if c["cell_type"] == "code")
    assert f'store.load("{experiment}", "medium")' in code, f"{notebook} does not load {experiment}-medium"
    assert "store.provenance_line(" in code, f"{notebook} does not print the provenance line"
    assert f"{module_alias}.verdict_sentences(" in code, f"{notebook} does not print {module_alias}'s verdicts"


def markdown_free_of(notebook: str, phrases: list[str]) -> None:
    """No markdown cell states one of the outcomes that used to be typed in by hand."""
    text = "\n".join(source(c) for c in cells(notebook) if c["cell_type"] == "markdown")
    for phrase in phrases:
        assert phrase not in text, f"{notebook} still states {phrase!r} in markdown"


def outputs_stripped(notebook: str) -> None:
    for c in cells(notebook):
        if c["cell_type"] == "code":
            assert not c["outputs"], f"{notebook} is committed with outputs"


def figures_have_alt_text(notebook: str) -> None:
    for c in cells(notebook):
        if c["cell_type"] == "code" and ("plt.show()" in source(c) or "diagrams." in source(c)):
            alt = c.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt) > 20, f"{notebook}: a figure cell has no alt text: {source(c)[:60]!r}"


def path(name: str, scale: str = "medium") -> Path:
    return store.path_for(name, scale)


def cost_explained(cost_section: dict[str, Any], factor: float = 2.0) -> None:
    """Every stored cost ratio agrees with its multiply-add ratio within `factor`, or the file says why and the
    printed line carries that reason (ratios recomputed here from the raw per-arm numbers)."""
    from course_lib.experiments import cost

    arms, reference = cost_section["arms"], cost_section["reference"]
    for arm, entry in arms.items():
        if arm == reference:
            continue
        measured = entry["cpu_ms_per_image"] / arms[reference]["cpu_ms_per_image"]
        macs = entry["macs"] / arms[reference]["macs"]
        line = cost.line(cost_section, arm)
        assert f"{measured:.2f}x" in line and f"{macs:.2f}x" in line, line
        if max(measured / macs, macs / measured) > factor:
            note = cost_section.get("notes", {}).get(arm, "")
            assert len(note) > 40, (f"{arm}: measured cost ratio {measured:.2f} against multiply-adds {macs:.2f} "
                                    f"(more than {factor}x apart) and the results file does not say why")
            assert note in line, line
