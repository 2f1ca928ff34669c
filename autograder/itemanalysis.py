"""Item analysis of a graded class: per test and per catalogued mistake, from the GradeResults.

- Per test: mean points, the share of full, partial and zero marks, and discrimination: the
  point-biserial (Pearson) correlation between the test's points and the total of the *other*
  tests, over the submissions nbgrader graded (those that could not be graded score 0 on every
  test and would inflate it). Above 0.3 the test separates strong from weak students; near 0 or
  negative, read the test and its message again.
- Per catalogued mistake: the checks name a usual mistake in their message ("Your `hs` matches
  an Elman RNN with Wh transposed (h @ Wh.T)."), and forbidden shortcuts say "calls rnn_ref".
  The messages are read from the graded notebooks in ``OUT/course/autograded``; a student counts
  once per mistake, whichever tests showed it.
"""

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MATCHES = re.compile(r"Your `(?P<value>[^`]+)` matches (?P<what>.+?)\. `(?P=value)` is wrong", re.S)


@dataclass
class TestStats:
    grade_id: str
    max_points: float
    mean: float
    full: float  # share of the graded submissions with full marks
    partial: float
    zero: float
    discrimination: float | None  # None when either side has no variance


@dataclass
class Mistake:
    description: str  # "an Elman RNN with Wh transposed (h @ Wh.T)"
    message: str  # one message as students saw it
    students: set = field(default_factory=set)
    tests: set = field(default_factory=set)


def correlation(xs, ys):
    """Pearson correlation, None when either has no variance."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sxy / math.sqrt(sxx * syy)


def test_stats(results, tests):
    """[TestStats] over the graded results (reason == ""), in the tests' order."""
    graded = [r for r in results if not r.reason]
    stats = []
    for gid, points in tests:
        own = [r.scores.get(gid, 0.0) for r in graded]
        rest = [r.total - r.scores.get(gid, 0.0) for r in graded]
        n = len(own) or 1
        stats.append(TestStats(
            gid, points, sum(own) / n,
            sum(p >= points - 1e-9 for p in own) / n,
            sum(1e-9 < p < points - 1e-9 for p in own) / n,
            sum(p <= 1e-9 for p in own) / n,
            correlation(own, rest)))
    return stats


def _message(evalue):
    return " ".join(evalue.split())


def mistakes(course_dir, assignment, results):
    """{description: Mistake} read from the graded notebooks of ``results``."""
    found = {}
    for r in results:
        if r.reason:
            continue
        path = Path(course_dir) / "autograded" / r.student / assignment / f"{assignment}.ipynb"
        if not path.is_file():
            continue
        for cell in nbformat.read(str(path), as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade"):
                continue
            for out in cell.get("outputs", []):
                if out.get("output_type") != "error":
                    continue
                text = _message(out.get("evalue", ""))
                m = MATCHES.search(text)
                if m:
                    what = m["what"]
                    shown = f"Your `{m['value']}` matches {what}."
                elif out.get("ename") == "ForbiddenShortcut":
                    what = "uses rnn_ref or a torch RNN where its own code is asked for"
                    shown = text.split(". ")[0] + "."
                else:
                    continue
                mistake = found.setdefault(what, Mistake(what, shown))
                mistake.students.add(r.student)
                mistake.tests.add(meta.get("grade_id", "?"))
    return dict(sorted(found.items(), key=lambda kv: (-len(kv[1].students), kv[0])))


def seconds(results):
    """(mean, median, max) seconds per graded submission, or None before any was timed."""
    times = sorted(r.seconds for r in results if getattr(r, "seconds", 0))
    if not times:
        return None
    n = len(times)
    return sum(times) / n, (times[(n - 1) // 2] + times[n // 2]) / 2, times[-1]
