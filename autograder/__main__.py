"""The autograder's command line: ``python -m autograder {release,check,grade} --help``."""

import argparse
import os
import sys
from pathlib import Path

from . import course


def _release(args):
    from .release import release

    release(args.assignments or None, out_dir=args.out)
    return 0


def _check(args):
    from .selfcheck import format_reports, self_check

    path = Path(args.notebook)
    if not path.is_file():
        return _fail(f"no notebook at {path}")
    from .grade import read_problem

    problem = read_problem(path)
    if problem:
        return _fail(f"{path}: {problem}")
    reports = self_check(path, timeout=args.timeout)
    print(format_reports(path.name, reports))
    return 0 if all(r.points == r.max_points for r in reports if r.points is not None) else 1


def _grade(args):
    from .speedups import skip_iri_grammar

    skip_iri_grammar()  # a second of start-up that grading does not use
    from .database import parse_shard
    from .grade import SubmissionsError, grade, summary
    from .outputs import Options

    try:
        shard = parse_shard(args.shard) if args.shard else None
        if shard and args.seed is None:
            raise ValueError("--shard needs --seed: every grader of the class must draw the same test inputs")
        options = Options(roster=args.roster, deadline=args.deadline, late_per_day=args.late_per_day,
                          late_cap=args.late_cap, extensions=args.extensions,
                          lms_gradebook=args.lms_gradebook, lms_column=args.lms_column,
                          manual=args.manual, overrides=args.overrides)
        results = grade(args.assignment, args.submissions, args.out, seed=args.seed,
                        progress=not args.quiet, jobs=args.jobs, db=args.db, shard=shard,
                        sandbox=args.sandbox, timeout=args.timeout, cell_timeout=args.cell_timeout,
                        options=options)
    except (course.UnknownAssignment, SubmissionsError, ValueError, RuntimeError, OSError) as exc:
        return _fail(str(exc))
    print(summary(results))
    print(f"Wrote {Path(args.out) / 'grades.csv'} and {len(results)} feedback files in "
          f"{Path(args.out) / 'feedback'}")
    if results.finished is not None:
        print("\n".join(results.finished.lines))
    return 0


def _fail(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


def parser():
    p = argparse.ArgumentParser(prog="python -m autograder",
                                description="Release, self-check and grade the course's assignments "
                                            "(nbgrader underneath).")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("release", help="regenerate notebooks/<id>.ipynb from solutions/<id>/",
                       description="Generate the student version of each assignment with nbgrader "
                                   "(solutions and hidden tests removed) and write it to notebooks/.")
    r.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help=f"ids to release (default: all that have a source): {', '.join(course.ASSIGNMENTS)}")
    r.add_argument("--out", default=str(course.NOTEBOOKS), help="folder to write to (default: notebooks/)")
    r.set_defaults(run=_release)

    c = sub.add_parser("check", help="self-check a notebook against its visible tests",
                       description="Run NOTEBOOK (the file is not changed) and print each test's "
                                   "points and message. Hidden tests are listed, not run: they run "
                                   "when the notebook is graded.")
    c.add_argument("notebook", metavar="NOTEBOOK")
    c.add_argument("--timeout", type=int, default=60, help="seconds allowed per cell (default 60)")
    c.set_defaults(run=_check)

    g = sub.add_parser("grade", help="grade a folder of submissions",
                       description="Grade every submission of ASSIGNMENT in SUBMISSIONS, which holds "
                                   "<student>/<assignment>/<notebook>.ipynb folders (nbgrader's layout) "
                                   "or <student>.ipynb files, or is a Canvas or Moodle download (zip or "
                                   "folder, recognised by its names). Writes OUT/grades.csv, "
                                   "OUT/feedback/<student>.html (no hidden tests shown), OUT/report.html "
                                   "and items.csv (item analysis), OUT/similarity.html and .csv, "
                                   "OUT/feedback.zip, the LMS import files, and nbgrader's course "
                                   "directory OUT/course. Submissions are never modified.")
    g.add_argument("assignment", metavar="ASSIGNMENT", help=", ".join(course.ASSIGNMENTS))
    g.add_argument("submissions", metavar="SUBMISSIONS", help="folder of submissions")
    g.add_argument("--out", required=True, metavar="DIR", help="folder for grades.csv and feedback/")
    g.add_argument("--seed", type=int, default=None,
                   help="seed of the tests' random inputs (default: a new one per run, the same "
                        "for every student of the run)")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                   help="grade in N worker processes (default 2: 1.9x faster than 1 on a 2-core "
                        "machine, bench/grading_scale.py)")
    g.add_argument("--db", default=None, metavar="URL",
                   help="gradebook URL, e.g. postgresql://user@host/gradebook (default: SQLite "
                        "in OUT/course)")
    g.add_argument("--shard", default=None, metavar="K/M",
                   help="grade only share K of M of the students (by a hash of the id): run M "
                        "graders with one --db and the same --seed")
    g.add_argument("--sandbox", choices=("auto", "on", "off"), default="auto",
                   help="run student kernels in a bubblewrap sandbox: auto (where it works), "
                        "on (fail where it does not), off (resource limits only)")
    g.add_argument("--timeout", type=float, default=600, metavar="SECONDS",
                   help="wall-clock limit for one submission (default 600)")
    g.add_argument("--cell-timeout", type=int, default=None, metavar="SECONDS",
                   help="time limit of one cell (default: the course config's, 60)")
    t = g.add_argument_group("the term: LMS downloads, late policy, written answers, overrides "
                                 "(autograder/INSTRUCTORS.md)")
    t.add_argument("--roster", type=Path, metavar="CSV",
                   help="columns id (the LMS's user or participant id), name, email[, student]: "
                        "students with no submission get a row, unknown ones are reported")
    t.add_argument("--deadline", metavar="TIME", help="e.g. 2026-03-01T23:59 (UTC offsets allowed)")
    t.add_argument("--late-per-day", type=float, default=10.0, metavar="PERCENT",
                   help="penalty per day or part of a day late, in percent of the maximum (default 10)")
    t.add_argument("--late-cap", type=float, default=100.0, metavar="PERCENT",
                   help="largest late penalty in percent (default 100)")
    t.add_argument("--extensions", type=Path, metavar="CSV",
                   help="columns student (grader id or LMS id) and deadline (or days)")
    t.add_argument("--lms-gradebook", type=Path, metavar="CSV",
                   help="your Canvas gradebook export or Moodle grading worksheet, to fill in as "
                        "OUT/canvas-import.csv or OUT/moodle-import.csv")
    t.add_argument("--lms-column", metavar="HEADER",
                   help="the assignment's column in the Canvas export (default: the one naming ASSIGNMENT)")
    t.add_argument("--manual", type=Path, metavar="CSV",
                   help="hand-graded written answers: columns student, question, points[, comment, grader]")
    t.add_argument("--overrides", type=Path, metavar="CSV",
                   help="columns student, test (a grade id or total), points, reason, by")
    g.set_defaults(run=_grade)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
