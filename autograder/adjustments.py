"""What changes a score after autograding: written answers graded by hand, and overrides.

Both come from CSV files the instructor writes; each row is checked (known student, known
question or test, points within the cell's maximum) and a row that fails is reported, never
applied. Neither touches the grading journal: they are applied when grades are exported, every
time, from the files as they are then.

- **Manual scores** (``--manual FILE``): ``student, question, points[, comment][, grader]``,
  where ``question`` is the grade id of a written answer cell. Scores entered in nbgrader's
  formgrader (the gradebook of ``OUT/course``) are read too; a CSV row wins over the gradebook.
- **Overrides** (``--overrides FILE``): ``student, test, points, reason, by``, where ``test`` is a
  test's grade id, a written answer's, or ``total`` (the final score, after the late penalty).
"""

import csv
from dataclasses import dataclass
from pathlib import Path


@dataclass
class ManualScore:
    student: str
    question: str
    points: float
    comment: str = ""
    grader: str = ""
    source: str = ""  # "formgrader" or "<file> line N"


@dataclass
class Override:
    student: str
    test: str  # a grade id or "total"
    points: float
    reason: str
    by: str
    source: str
    before: float | None = None  # filled when applied


def _rows(path, required):
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; expected "
                             f"{', '.join(required)} (found {', '.join(reader.fieldnames or [])})")
        for line, row in enumerate(reader, start=2):
            yield f"{Path(path).name} line {line}", {k: (v or "").strip() for k, v in row.items() if k}


def _points(text):
    value = float(text)
    if value != value:  # NaN
        raise ValueError("not a number")
    return value


def read_manual(path, students, written):
    """([ManualScore], problems, rejected) from a manual-scores CSV; written: {grade id: max
    points}. rejected: [(student, what)] of the rows of known students that were not applied."""
    scores, problems, rejected = [], [], []
    for where, row in _rows(path, ("student", "question", "points")):
        student, question = row["student"], row["question"]
        if student not in students:
            problems.append((where, f"manual score for unknown student {student!r}: not applied"))
        elif question not in written:
            problems.append((where, f"{question!r} is not a written answer of this assignment "
                             f"(they are: {', '.join(written) or 'none'}): not applied"))
        else:
            try:
                points = _points(row["points"])
            except ValueError:
                problems.append((where, f"points {row['points']!r} is not a number: not applied"))
                rejected.append((student, f"manual score of {question} is not a number"))
                continue
            if not 0 <= points <= written[question]:
                problems.append((where, f"manual score {points:g} for {student} {question} is "
                                 f"outside 0..{written[question]:g} (the cell's points): not applied"))
                rejected.append((student, f"manual score {points:g} of {question} rejected: the "
                                 f"cell has {written[question]:g} points"))
                continue
            scores.append(ManualScore(student, question, points, row.get("comment", ""),
                                      row.get("grader", ""), where))
    return scores, problems, rejected


def gradebook_manual(db_url, course_id, assignment, students, written):
    """[ManualScore] entered in nbgrader's formgrader (manual scores of the written cells)."""
    from nbgrader.api import Gradebook, MissingEntry

    found = []
    with Gradebook(db_url, course_id) as gb:
        for student in students:
            try:
                nb = gb.find_submission_notebook(assignment, assignment, student)
            except MissingEntry:
                continue
            comments = {c.name: c.manual_comment or "" for c in nb.comments}
            for grade in nb.grades:
                if grade.name in written and grade.manual_score is not None:
                    found.append(ManualScore(student, grade.name, float(grade.manual_score),
                                             comments.get(grade.name, ""), "", "formgrader"))
    return found


def read_overrides(path, students, maxima):
    """([Override], problems); maxima: {test or written grade id: max points, "total": max}."""
    found, problems = [], []
    for where, row in _rows(path, ("student", "test", "points", "reason")):
        student, test = row["student"], row["test"]
        if student not in students:
            problems.append((where, f"override for unknown student {student!r}: not applied"))
            continue
        if test not in maxima:
            problems.append((where, f"override of unknown test {test!r}: not applied"))
            continue
        if not row["reason"]:
            problems.append((where, "override without a reason: not applied (say why)"))
            continue
        try:
            points = _points(row["points"])
        except ValueError:
            problems.append((where, f"points {row['points']!r} is not a number: not applied"))
            continue
        if not 0 <= points <= maxima[test]:
            problems.append((where, f"override {points:g} for {student} {test} is outside "
                             f"0..{maxima[test]:g}: not applied"))
            continue
        found.append(Override(student, test, points, row["reason"], row.get("by", "") or "(not given)",
                              where))
    return found, problems


def merge_manual(from_gradebook, from_csv):
    """{(student, question): ManualScore}: the CSV's rows over the formgrader's."""
    merged = {(m.student, m.question): m for m in from_gradebook}
    merged.update({(m.student, m.question): m for m in from_csv})
    return merged
