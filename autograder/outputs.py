"""What ``grade`` writes after grading: the final grade table and everything made from it.

:func:`finish` runs once per ``grade`` run, after the last notebook, from the GradeResults, the
course directory and the instructor's files (roster, late policy, manual scores, overrides, LMS
gradebook). It never edits the journal or a submission; running it again with other files gives
other exports from the same grading. It writes:

- ``grades.csv`` (one row per student, and per roster student without a submission): each test's
  points, ``total``/``max`` (the autograded tests), each written answer's hand-graded points,
  ``raw``/``raw_max`` (tests and written answers), ``late_days``, ``penalty`` (points),
  ``final``, ``reason`` (why a 0, or what went wrong in the notebook) and ``notes`` (lateness,
  overrides, written answers waiting, roster and manual-score problems);
- a box at the top of every feedback page with the written answers' scores and comments, the
  late penalty, overrides and the final score (replaced, not added, on a later run);
- ``report.html`` and ``items.csv`` (autograder.report), ``similarity.html`` and
  ``similarity.csv`` (autograder.similarity);
- ``canvas-import.csv``, ``moodle-import.csv`` and ``feedback.zip`` (autograder.exports).
"""

import csv
import html
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import adjustments, exports, itemanalysis, report, similarity
from .authoring import written_ids
from .course import source_notebook
from .latepolicy import LatePolicy, apply_days, parse_time, read_extensions


@dataclass
class Options:
    """The instructor's files and choices for one run (all optional)."""

    roster: Path | None = None
    deadline: str | None = None
    late_per_day: float = 10.0  # percent of the maximum per day or part of a day
    late_cap: float = 100.0  # percent
    extensions: Path | None = None
    lms_gradebook: Path | None = None
    lms_column: str | None = None
    manual: Path | None = None
    overrides: Path | None = None


@dataclass
class Row:
    """The exported grade of one student."""

    student: str
    name: str = ""
    email: str = ""
    lms_id: str = ""
    tests: dict = field(default_factory=dict)
    total: float = 0.0  # autograded
    max: float = 0.0
    written: dict = field(default_factory=dict)  # grade id -> points or None (not graded yet)
    comments: dict = field(default_factory=dict)  # grade id -> (comment, grader)
    raw: float = 0.0
    raw_max: float = 0.0
    late_days: int = 0
    late_note: str = ""
    penalty: float = 0.0
    final: float = 0.0
    overrides: list = field(default_factory=list)
    reason: str = ""  # why it scored 0 or what went wrong in the notebook (as grade.write_csv)
    notes: list = field(default_factory=list)  # roster, rejected manual scores
    submitted: bool = True
    graded: bool = True  # nbgrader graded the notebook (else it scored 0 with a reason)
    in_roster: bool = False
    feedback: Path | None = None


@dataclass
class Finished:
    rows: list
    problems: list  # [(where, what)]
    lines: list  # for the summary printed by the command line


def check_options(options, assignment=None):
    """ValueError (with what to fix) for an instructor's file that is missing or unreadable,
    before any grading: a missing file, a deadline that does not parse, a CSV without its columns."""
    if options is None:
        return
    for label, path in (("--roster", options.roster), ("--extensions", options.extensions),
                        ("--lms-gradebook", options.lms_gradebook), ("--manual", options.manual),
                        ("--overrides", options.overrides)):
        if path is not None and not Path(path).is_file():
            raise ValueError(f"{label}: no file at {path}")
    if options.deadline:
        parse_time(options.deadline)
    elif options.extensions:
        raise ValueError("--extensions needs --deadline")
    if not (0 <= options.late_per_day and 0 <= options.late_cap <= 100):
        raise ValueError("--late-per-day must be >= 0 and --late-cap between 0 and 100 (percent)")
    if options.roster:
        exports.read_roster(options.roster)
    if options.lms_gradebook and exports.kind_of_gradebook(options.lms_gradebook) == "canvas" and assignment:
        with open(options.lms_gradebook, newline="", encoding="utf-8-sig") as f:
            exports.canvas_column(next(csv.reader(f), []), assignment, options.lms_column)
    for path, columns in ((options.manual, ("student", "question", "points")),
                          (options.overrides, ("student", "test", "points", "reason"))):
        if path:
            with open(path, newline="", encoding="utf-8-sig") as f:
                header = next(csv.reader(f), [])
            missing = [c for c in columns if c not in header]
            if missing:
                raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (expected "
                                 f"{', '.join(columns)})")


MOODLE_TIME = "%A, %d %B %Y, %I:%M %p"


def _moodle_time(text):
    try:
        return datetime.strptime(text.strip(), MOODLE_TIME)
    except ValueError:
        return None


def finish(assignment, results, tests, out_dir, options=None, download=None, submissions=(),
           db_url=None, course_id="rnn-course"):
    """Write grades.csv, feedback boxes, report, similarity and exports; returns Finished."""
    options = options or Options()
    out_dir = Path(out_dir)
    problems = list(download.problems) if download else []
    for s in submissions:
        if s.problem and s.student not in {r.student for r in results}:
            problems.append((s.student, s.problem))
    written = dict(written_ids(source_notebook(assignment)))
    entries = download.entries if download else {}
    rows = {r.student: _row(r, tests, written, entries.get(r.student)) for r in results}

    # roster: names and emails, missing students, unknown students
    if options.roster:
        roster = exports.read_roster(options.roster)
        by_key = {}
        for row in rows.values():
            by_key[row.lms_id or row.student] = row
            by_key.setdefault(row.student, row)
        for entry in roster:
            row = by_key.get(entry.lms_id) or (by_key.get(entry.student) if entry.student else None)
            if row is None:
                student = entry.student or f"{entry.name}_{entry.lms_id}".replace(" ", "_")
                rows[student] = Row(student, entry.name, entry.email, entry.lms_id,
                                    tests={gid: 0.0 for gid, _ in tests},
                                    max=sum(p for _, p in tests),
                                    written={gid: None for gid in written},
                                    raw_max=sum(p for _, p in tests) + sum(written.values()),
                                    reason="no submission", submitted=False, graded=False)
            else:
                row.name, row.email, row.lms_id = entry.name or row.name, entry.email, entry.lms_id
                row.in_roster = True
        for row in rows.values():
            if row.submitted and not row.in_roster:
                problems.append((row.student, "not in the roster: graded, but check the id "
                                 "(a late enrolment, or a test student of the LMS)"))
                row.notes.append("not in the roster")

    submitted = {s for s, r in rows.items() if r.submitted}
    # written answers: the formgrader's scores, then the CSV's
    from_gradebook = []
    if written and db_url:
        from_gradebook = adjustments.gradebook_manual(db_url, course_id, assignment, submitted, written)
    from_csv = []
    if options.manual:
        from_csv, found, rejected = adjustments.read_manual(options.manual, set(rows), written)
        problems += found
        for student, what in rejected:
            rows[student].notes.append(what)
    for (student, question), m in adjustments.merge_manual(from_gradebook, from_csv).items():
        if student in rows:
            rows[student].written[question] = m.points
            rows[student].comments[question] = (m.comment, m.grader or m.source)

    # overrides
    overrides = []
    if options.overrides:
        maxima = {**dict(tests), **written}
        maxima["total"] = sum(maxima.values())
        overrides, found = adjustments.read_overrides(options.overrides, set(rows), maxima)
        problems += found
    for o in overrides:
        row = rows[o.student]
        if o.test in row.tests:
            o.before, row.tests[o.test] = row.tests[o.test], o.points
        elif o.test in row.written:
            o.before, row.written[o.test] = row.written[o.test], o.points
        row.overrides.append(o)
    for row in rows.values():
        _totals(row)

    # late policy
    if options.deadline:
        policy = LatePolicy(parse_time(options.deadline), options.late_per_day, options.late_cap)
        if options.extensions:
            known = set(rows) | {r.lms_id for r in rows.values() if r.lms_id}
            extensions, found = read_extensions(options.extensions, known)
            problems += found
            policy.extensions = apply_days(extensions, policy.deadline)
        times = {}
        if options.lms_gradebook and exports.kind_of_gradebook(options.lms_gradebook) == "moodle":
            times = {k: _moodle_time(v) for k, v in exports.read_worksheet_times(options.lms_gradebook).items()}
        for row in rows.values():
            if not row.submitted:
                continue
            entry = entries.get(row.student)
            mark = entry.late_mark if entry else False
            when = times.get(row.lms_id)
            if when is None and entry is not None and (download.kind == "moodle" or mark):
                when = entry.submitted_at  # Canvas: only to count the days of a file it marked late
            row.late_days, row.late_note = policy.days_late(when, mark, row.student, row.lms_id)
            row.penalty = round(policy.penalty_percent(row.late_days) / 100 * row.raw_max, 6)
    for row in rows.values():
        row.final = round(max(0.0, row.raw - row.penalty), 6)
        for o in row.overrides:
            if o.test == "total":
                o.before, row.final = row.final, o.points

    ordered = sorted(rows.values(), key=lambda r: (not r.submitted, r.student))
    write_grades(ordered, tests, written, out_dir / "grades.csv")
    for row in ordered:
        if row.feedback and Path(row.feedback).is_file():
            _feedback_box(row, written)
    lines = []
    waiting = [r for r in ordered if r.graded and any(v is None for v in r.written.values())]
    if written:
        lines.append(f"Written answers ({', '.join(written)}; {sum(written.values()):g} points) are "
                     f"graded by hand: {len(waiting)} of {sum(r.graded for r in ordered)} graded "
                     f"notebooks still wait "
                     f"(nbgrader's formgrader in {out_dir / 'course'}, or --manual FILE); their "
                     f"final score is provisional until then.")

    # exports
    _exports(assignment, ordered, options, download, out_dir, problems, lines)

    # similarity and the report
    release = out_dir / "course" / "release" / assignment / f"{assignment}.ipynb"
    graded_subs = [s for s in submissions if s.path is not None and not s.problem]
    pairs, matches = similarity.report(assignment, graded_subs, release, out_dir) if release.is_file() else ([], [])
    if pairs or matches:
        lines.append(f"Similarity: {len(pairs)} pair(s) and {len(matches)} answer(s) close to the "
                     f"reference to read in {out_dir / 'similarity.html'}")
    stats = itemanalysis.test_stats(results, tests)
    found = itemanalysis.mistakes(out_dir / "course", assignment, results)
    report.write(out_dir, assignment, results, ordered, tests, written, stats, found, problems,
                 overrides, pairs, matches, options)
    lines.append(f"Wrote {out_dir / 'report.html'} (item analysis) and {out_dir / 'items.csv'}")
    for where, what in problems:
        lines.append(f"  problem: {where}: {what}")
    return Finished(ordered, problems, lines)


def _row(result, tests, written, entry):
    row = Row(result.student, tests={gid: result.scores.get(gid, 0.0) for gid, _ in tests},
              max=result.max_total, written={gid: None for gid in written},
              raw_max=result.max_total + sum(written.values()),
              reason=result.reason or result.note, feedback=result.feedback)
    if result.reason:  # a notebook that could not be graded has no written answer either
        row.written = {gid: 0.0 for gid in written}
        row.graded = False
    if entry is not None:
        row.name, row.lms_id = entry.name, entry.lms_id
    _totals(row)
    return row


def _totals(row):
    row.total = round(sum(row.tests.values()), 6)
    row.raw = round(row.total + sum(v for v in row.written.values() if v is not None), 6)


def write_grades(rows, tests, written, path):
    header = ["student", "name", "email", "lms_id", *[g for g, _ in tests], "total", "max",
              *written, "raw", "raw_max", "late_days", "penalty", "final", "reason", "notes"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            notes = list(r.notes)
            if r.late_note and r.late_days:
                notes.append(f"late: {r.late_note}")
            notes += [f"override {o.test}: {o.points:g} by {o.by} ({o.reason})" for o in r.overrides]
            if r.graded and any(v is None for v in r.written.values()):
                notes.append("written answers not graded yet")
            w.writerow([r.student, r.name, r.email, r.lms_id, *[f"{r.tests[g]:g}" for g, _ in tests],
                        f"{r.total:g}", f"{r.max:g}",
                        *["" if r.written[g] is None else f"{r.written[g]:g}" for g in written],
                        f"{r.raw:g}", f"{r.raw_max:g}", r.late_days, f"{r.penalty:g}", f"{r.final:g}",
                        r.reason, "; ".join(notes)])


BOX_START, BOX_END = "<!-- autograder:final -->", "<!-- /autograder:final -->"


def _feedback_box(row, written):
    """Insert (or replace) the box with the written answers, penalty, overrides and final score."""
    items = []
    for gid, points in row.written.items():
        comment, by = row.comments.get(gid, ("", ""))
        score = "not graded yet" if points is None else f"{points:g} / {written[gid]:g}"
        items.append(f"<li>Written answer <code>{html.escape(gid)}</code>: {score}"
                     + (f". Comment: {html.escape(comment)}" if comment else "") + "</li>")
    if row.late_days:
        items.append(f"<li>Late by {row.late_days} day(s) ({html.escape(row.late_note)}): "
                     f"penalty {row.penalty:g} points</li>")
    for o in row.overrides:
        items.append(f"<li>Changed by {html.escape(o.by)}: {html.escape(o.test)} set to {o.points:g} "
                     f"(was {'' if o.before is None else f'{o.before:g}'}). Reason: {html.escape(o.reason)}</li>")
    box = (f'{BOX_START}<div class="grader-final" style="border:2px solid #06c;padding:0.5em 1em;'
           f'margin:1em"><strong>Your score: {row.final:g} / {row.raw_max:g}</strong> '
           f"(tests {row.total:g} / {row.max:g})<ul>{''.join(items)}</ul></div>{BOX_END}")
    page = Path(row.feedback).read_text(encoding="utf-8")
    start, end = page.find(BOX_START), page.find(BOX_END)
    if start >= 0 and end > start:
        page = page[:start] + box + page[end + len(BOX_END):]
    else:
        at = page.find(">", page.find("<body")) + 1
        page = page[:at] + "\n" + box + "\n" + page[at:] if at > 0 else box + page
    Path(row.feedback).write_text(page, encoding="utf-8")


def _exports(assignment, rows, options, download, out_dir, problems, lines):
    maximum = max((r.raw_max for r in rows), default=0.0)
    scores = {r.lms_id: (r.final if r.submitted else None) for r in rows if r.lms_id}
    gradebook_kind = exports.kind_of_gradebook(options.lms_gradebook) if options.lms_gradebook else None
    if gradebook_kind == "canvas":
        untouched, absent = exports.write_canvas(options.lms_gradebook, scores, assignment,
                                                 out_dir / "canvas-import.csv", options.lms_column)
        for user in absent:
            problems.append((f"Canvas id {user}", "graded but not in the Canvas gradebook: not exported"))
        lines.append(f"Wrote {out_dir / 'canvas-import.csv'} (Canvas: Grades > Import)")
    if gradebook_kind == "moodle" or (download and download.kind == "moodle"):
        exports.write_moodle([(r.lms_id, r.name, r.email, r.final if r.submitted else None,
                               _comment(r)) for r in rows if r.lms_id], maximum,
                             out_dir / "moodle-import.csv",
                             options.lms_gradebook if gradebook_kind == "moodle" else None)
        lines.append(f"Wrote {out_dir / 'moodle-import.csv'} (Moodle: Upload grading worksheet)")
    pages = {}
    for r in rows:
        if not (r.feedback and Path(r.feedback).is_file()):
            continue
        entry = download.entries.get(r.student) if download else None
        if entry is None:
            pages[f"{r.student}.html"] = r.feedback
        else:
            pages[f"{entry.prefix}{assignment}-feedback.html"] = r.feedback
    exports.write_feedback_zip(pages, out_dir / "feedback.zip")
    lines.append(f"Wrote {out_dir / 'feedback.zip'} ({len(pages)} feedback pages named for the LMS)")


def _comment(row):
    parts = [f"Tests {row.total:g}/{row.max:g}"]
    if row.penalty:
        parts.append(f"late {row.late_days} day(s): -{row.penalty:g}")
    parts += [f"{gid}: {c}" for gid, (c, _) in row.comments.items() if c]
    return "; ".join(parts)
