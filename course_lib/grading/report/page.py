"""The report as one self-contained HTML page: inline CSS and SVG, no script, no external resource."""

from __future__ import annotations

import html
import os
import statistics
from datetime import datetime, timezone
from pathlib import Path

from . import charts
from .gather import ClassResults, StudentResult
from .similarity import METHOD, Comparison, Pair
from .stats import Rate, cell_rates, check_rates, median

SIDE_BY_SIDE = 60   # pairs shown with their code; the rest are listed by name and score

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:72rem;
     padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:.7rem;background:#55a868;vertical-align:middle}
.bad{color:#a61b1b}.muted{color:#666}.note{background:#fff8e1;border-left:4px solid #e0a800;padding:.6rem 1rem}
.pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:.8rem;margin:.6rem 0 1.6rem}
pre.code{margin:0;background:#fafafa;border:1px solid #ddd;padding:.4rem;overflow-x:auto;font-size:.8rem}
pre.code span{display:block;white-space:pre}pre.code span.hit{background:#ffe08a}
pre.code span::before{content:attr(data-n);display:inline-block;width:2.2em;color:#999}
summary{cursor:pointer}.wide{overflow-x:auto}td ul{margin:0;padding-left:1.1rem}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _link(target: Path, out_dir: Path, label: str, anchor: str = "") -> str:
    href = os.path.relpath(target, out_dir).replace(os.sep, "/") + (f"#{anchor}" if anchor else "")
    return f'<a href="{_e(href)}">{_e(label)}</a>'


def _feedback_link(student: StudentResult, notebook: str, out_dir: Path, anchor: str = "") -> str:
    page = student.feedback.get(notebook)
    return _link(page, out_dir, student.student, anchor) if page else _e(student.student)


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _rate_cell(rate: Rate) -> str:
    return (f'<td class="num">{rate.passed}/{rate.total}</td><td class="num">{100 * rate.rate:.0f}%'
            f' <span class="bar" style="width:{60 * rate.rate:.0f}px"></span></td>')


def _summary(results: ClassResults) -> str:
    graded = results.graded
    scores = [s.score for s in graded]
    counts = {}
    for s in results.students:
        counts[s.status] = counts.get(s.status, 0) + 1
    parts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    line = f"<p>{len(results.students)} students in the gradebook or in submitted/: {_e(parts)}.</p>"
    if scores:
        line += (f"<p>Scores of the graded submissions (of {results.max_score:g}): mean {statistics.mean(scores):.2f}, "
                 f"median {median(scores):g}, lowest {min(scores):g}, highest {max(scores):g}.</p>")
    return line


def _cells_section(results: ClassResults, out_dir: Path) -> str:
    rates = cell_rates(results)
    tests = {t.grade_id: t for t in results.test_cells}
    rows = []
    by_id = {s.student: s for s in results.students}
    for rate in rates:
        test = tests[rate.cell]
        examples = ", ".join(_feedback_link(by_id[s], test.notebook, out_dir, rate.cell) for s in rate.failing[:5])
        more = f" and {len(rate.failing) - 5} more" if len(rate.failing) > 5 else ""
        rows.append(f'<tr><td><a href="#cell-{_e(rate.cell)}"><code>{_e(rate.cell)}</code></a></td>'
                    f'<td>{_e(test.notebook)}</td><td class="num">{test.points:g}</td>'
                    f'<td>{"hidden" if test.hidden else "visible"}</td>{_rate_cell(rate)}'
                    f'<td>{examples}{_e(more)}</td></tr>')
    chart = charts.pass_rates([r.cell for r in rates], [r.rate for r in rates]) if rates else ""
    return ("<h2 id='cells'>Test cells, most often failed first</h2>"
            "<p>Full marks in the cell, among the graded submissions (scores from the gradebook). "
            "Student ids link to their feedback page at that cell.</p>"
            "<table><tr><th>test cell</th><th>notebook</th><th>points</th><th>tests</th><th>full marks</th>"
            "<th>pass rate</th><th>failed by</th></tr>" + "".join(rows) + "</table>" + chart)


def _checks_section(results: ClassResults, out_dir: Path) -> str:
    rates = check_rates(results)
    if not rates:
        return "<h2 id='checks'>Checks</h2><p>No check results were found.</p>"
    by_id = {s.student: s for s in results.students}
    notebooks = {t.grade_id: t.notebook for t in results.test_cells}
    blocks = []
    for cell in [r.cell for r in cell_rates(results)]:
        rows = []
        for rate in [r for r in rates if r.cell == cell]:
            messages = "".join(f"<li>{_e(m)} <span class='muted'>× {n}</span></li>" for m, n in rate.messages[:5])
            seen = ", ".join(_feedback_link(by_id[s], notebooks[cell], out_dir, cell) for s in rate.failing[:3])
            rows.append(f"<tr><td>{_e(rate.check)}</td>{_rate_cell(rate)}<td class='num'>{rate.failed}</td>"
                        f"<td>{'<ul>' + messages + '</ul>' if messages else ''}</td><td>{seen}</td></tr>")
        blocks.append(f"<h3 id='cell-{_e(cell)}'>Test cell <code>{_e(cell)}</code></h3><table><tr><th>check</th>"
                      "<th>passed</th><th>pass rate</th><th>failed</th><th>most common failure messages</th>"
                      "<th>failed by, e.g.</th></tr>" + "".join(rows) + "</table>")
    source = ("the grader's records" if results.records else
              "the lines the test cells printed in autograded/ (the grader's records were not found)")
    return ("<h2 id='checks'>Checks, most often failed first</h2>"
            f"<p>Each test cell runs several checks; their results come from {_e(source)}. Messages that differ "
            "only in numbers are counted together.</p>" + "".join(blocks))


def _problems_section(results: ClassResults) -> str:
    failed = [s for s in results.students if s.status in ("failed", "skipped", "not graded")]
    rows = "".join(f"<tr><td>{_e(s.student)}</td><td class='bad'>{_e(s.status)}</td><td>{_e(s.reason)}</td></tr>"
                   for s in failed)
    notes = "".join(f"<tr><td>{_e(s.student)}</td><td>{_e(n)}</td></tr>" for s in results.students for n in s.notes)
    flags = "".join(f"<tr><td>{_e(s.student)}</td><td>{_e(f.kind)}</td><td><code>{_e(f.cell)}</code></td>"
                    f"<td class='num'>{'' if f.line is None else f.line}</td><td>{_e(f.reason)}</td></tr>"
                    for s in results.students for f in s.flags)
    text = "<h2 id='problems'>Submissions that could not be graded</h2>"
    text += (f"<table><tr><th>student</th><th>status</th><th>why</th></tr>{rows}</table>" if rows
             else "<p>Every submission was graded.</p>")
    if notes:
        text += f"<h3>Notes from the grader</h3><table><tr><th>student</th><th>note</th></tr>{notes}</table>"
    text += "<h2 id='flags'>Flags raised by the grader</h2>"
    text += ("<p>Reuse of the course's own code, attempts to reach or forge the grading machinery.</p>"
             f"<table><tr><th>student</th><th>kind</th><th>cell</th><th>line</th><th>reason</th></tr>{flags}</table>"
             if flags else "<p>No flags.</p>")
    return text


def _code(source: str, hits: set[int]) -> str:
    lines = source.splitlines() or [""]
    return "<pre class='code'>" + "".join(
        f"<span data-n='{i}'{' class=hit' if i in hits else ''}>{_e(line) or ' '}</span>"
        for i, line in enumerate(lines, 1)) + "</pre>"


def _pair(pair: Pair, results: ClassResults) -> str:
    by_id = {s.student: s for s in results.students}
    first, second = by_id[pair.first], by_id[pair.second]
    return (f"<h4>{_e(pair.first)} and {_e(pair.second)}: similarity {pair.score:.2f} "
            f"<span class='muted'>({pair.shared} shared fingerprints, cell <code>{_e(pair.cell)}</code>)</span></h4>"
            f"<div class='pair'>"
            f"<div><b>{_e(pair.first)}</b>{_code(first.answers.get(pair.cell, ''), pair.first_lines)}</div>"
            f"<div><b>{_e(pair.second)}</b>{_code(second.answers.get(pair.cell, ''), pair.second_lines)}</div></div>")


def _similarity_section(results: ClassResults, comparisons: list[Comparison], threshold: float) -> str:
    text = ("<h2 id='similarity'>Similar answers</h2>"
            "<p class='note'><b>Similarity is evidence for a person to weigh, not a verdict.</b> Short answers to a "
            "tightly specified exercise resemble each other, students may legitimately share a source (the course "
            "notes, a textbook), and copying can hide from any measure. Read the pairs side by side and talk to "
            "the students before drawing any conclusion.</p>"
            f"<p><b>Method:</b> {_e(METHOD)}. <b>Threshold:</b> pairs scoring {threshold:g} or more are listed.</p>")
    for comparison in comparisons:
        text += f"<h3>Answer cell <code>{_e(comparison.cell)}</code></h3>"
        text += (f"<p>{comparison.compared} answers compared, {len(comparison.pairs)} pair(s) at or above the "
                 "threshold.")
        if comparison.too_short:
            text += f" Too short to compare (stub left, or a line or two): {_e(', '.join(comparison.too_short))}."
        if comparison.unparsable:
            text += f" Not valid Python, compared by tokens only: {_e(', '.join(comparison.unparsable))}."
        text += "</p>"
        if comparison.all_scores:
            text += charts.similarity_scores(comparison.all_scores, threshold)
        text += "".join(_pair(p, results) for p in comparison.pairs[:SIDE_BY_SIDE])
        rest = comparison.pairs[SIDE_BY_SIDE:]
        if rest:
            text += (f"<p>{len(rest)} more pair(s) at or above the threshold (not shown side by side):</p><table>"
                     "<tr><th>first</th><th>second</th><th>similarity</th></tr>" + "".join(
                         f"<tr><td>{_e(p.first)}</td><td>{_e(p.second)}</td><td class='num'>{p.score:.2f}</td></tr>"
                         for p in rest) + "</table>")
    return text


def _students_section(results: ClassResults, out_dir: Path) -> str:
    tests = [t.grade_id for t in results.test_cells]
    head = "".join(f"<th><code>{_e(t)}</code></th>" for t in tests)
    rows = []
    for s in results.students:
        name = " ".join(p for p in (s.first_name, s.last_name) if p)
        cells = "".join(f"<td class='num'>{_num(s.cells[t].score, 2) if t in s.cells else ''}</td>" for t in tests)
        links = ", ".join(_link(p, out_dir, nb) for nb, p in sorted(s.feedback.items())) or \
            ("<span class='muted'>not generated</span>" if s.status == "graded" else "")
        score = f"{s.score:g}" if s.score is not None else ""
        status = _e(s.status) if s.status == "graded" else f"<span class='bad'>{_e(s.status)}</span>"
        rows.append(f"<tr id='student-{_e(s.student)}'><td>{_e(s.student)}</td><td>{_e(name)}</td><td>{status}</td>"
                    f"<td class='num'>{score}</td>{cells}<td class='num'>{_num(s.seconds)}</td>"
                    f"<td class='num'>{_num(s.peak_memory_mb, 0)}</td><td class='num'>{len(s.flags) or ''}</td>"
                    f"<td>{links}</td></tr>")
    timing = "" if any(s.seconds is not None for s in results.students) else (
        "<p class='muted'>Time and peak memory come from the grader's records (grading_records/); none were "
        "found, so those columns are empty.</p>")
    return ("<h2 id='students'>Students</h2>" + timing +
            f"<div class='wide'><table><tr><th>student</th><th>name</th><th>status</th><th>score</th>{head}"
            f"<th>time (s)</th><th>peak memory (MB)</th><th>flags</th><th>feedback</th></tr>" + "".join(rows)
            + "</table></div>")


def render(results: ClassResults, comparisons: list[Comparison], threshold: float, out_dir: Path) -> str:
    """The whole page; links are relative to `out_dir`, where the page will be written."""
    scores = [s.score for s in results.graded]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    warnings = "".join(f"<li>{_e(w)}</li>" for w in results.warnings)
    nav = " · ".join(f"<a href='#{a}'>{t}</a>" for a, t in (("scores", "scores"), ("cells", "test cells"),
                     ("checks", "checks"), ("problems", "not graded"), ("flags", "flags"),
                     ("similarity", "similarity"), ("students", "students")))
    body = (f"<h1>Class report: {_e(results.assignment)}</h1><p class='muted'>Generated {stamp} from the gradebook "
            f"{_e(results.db_url.split('@')[-1])}; {results.records} grading record(s) used.</p><p>{nav}</p>"
            + (f"<ul class='bad'>{warnings}</ul>" if warnings else "") + _summary(results)
            + "<h2 id='scores'>Score distribution</h2>"
            + (charts.score_histogram(scores, results.max_score) if scores else "<p>No graded submissions.</p>")
            + _cells_section(results, out_dir) + _checks_section(results, out_dir) + _problems_section(results)
            + _similarity_section(results, comparisons, threshold) + _students_section(results, out_dir))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
            f"content='width=device-width, initial-scale=1'><title>Class report: {_e(results.assignment)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n")
