"""``python -m bench.grading``: seconds per submission of ``python -m autograder grade`` against plain
``nbgrader autograde`` on the same submissions, in the same run.

Both commands run as subprocesses on identical copies of COUNT submissions (solved and blank
student copies in turn) with the same test seed. The plain nbgrader run gets a course
directory prepared beforehand (source, generated assignment, submitted/ folders), so its time
is autograding alone; ``grade`` is timed from the command line to its CSV, course set-up and
feedback included. A second plain figure adds ``nbgrader generate_feedback``, the work ``grade``
also does. Target: grade / plain autograde <= 1.2.

``--profile`` instead prints where a submission's time goes (kernel start, imports, the cells,
nbgrader's gradebook and file work, feedback, the grader's own work), with and without the
sandbox, for a small class graded in one process (:mod:`bench.grading_profile`). Wall and CPU seconds are both printed: on a
machine shared with other work the wall times drift between the two runs, CPU much less.
"""

import argparse
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from autograder.authoring import answers, fill
from autograder.course import NOTEBOOKS, ROOT, generate_assignment, make_course_dir, source_notebook


def write_submissions(folder, assignment, count):
    """COUNT notebooks <student>.ipynb in folder: solved and blank student copies in turn."""
    student_copy = NOTEBOOKS / f"{assignment}.ipynb"
    kinds = [fill(student_copy, answers(source_notebook(assignment))),
             nbformat.read(str(student_copy), as_version=4)]
    folder.mkdir(parents=True)
    students = [f"s{i:03d}" for i in range(count)]
    for i, student in enumerate(students):
        nbformat.write(kinds[i % 2], str(folder / f"{student}.ipynb"))
    return students


def run(argv, cwd, env):
    """Run a command; returns (wall seconds, CPU seconds of it and every process it waited for).

    CPU time is the steadier figure on a machine that others share; wall time is what a user waits.
    Kernels run in grade's bubblewrap sandbox are not waited for by grade, so their CPU time is
    missing: compare CPU with ``--grade-options "--sandbox off"``.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def line(label, seconds, n):
    wall, cpu = seconds
    return f"  {label:<40} {wall:7.1f} s wall {wall / n:5.2f} s/submission   {cpu:7.1f} s CPU {cpu / n:5.2f} s/submission"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="a1_elman")
    parser.add_argument("--count", type=int, default=None,
                        help="number of submissions (default 20; 6 with --profile)")
    parser.add_argument("--grade-only", action="store_true",
                        help="time `grade` alone, without the plain nbgrader baseline "
                             "(e.g. --assignment a4_lstm --count 100)")
    parser.add_argument("--profile", action="store_true",
                        help="where the time goes, part by part, for a small class (default count 6)")
    parser.add_argument("--grade-options", default="", metavar="OPTIONS",
                        help="extra options for grade, e.g. \"--jobs 1 --sandbox off\"")
    args = parser.parse_args(argv)
    args.count = args.count or (6 if args.profile else 20)
    if args.profile:
        from bench import grading_profile

        with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
            folder = Path(tmp) / "submissions"
            write_submissions(folder, args.assignment, args.count)
            grading_profile.main(args.assignment, folder)
        return

    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, AUTOGRADER_SEED="2024", PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "submissions"
        students = write_submissions(folder, args.assignment, args.count)

        ours = run([sys.executable, "-m", "autograder", "grade", args.assignment, str(folder),
                    "--out", str(tmp / "out"), "--quiet", "--seed", "2024",
                    *shlex.split(args.grade_options)], ROOT, env)
        n = args.count
        print(f"{n} submissions of {args.assignment} on {os.cpu_count()} cores; grade options: "
              f"{args.grade_options or '(defaults)'}")
        if args.grade_only:
            print(line("python -m autograder grade", ours, n))
            return

        course = tmp / "plain"
        generate_assignment(make_course_dir(course, args.assignment), args.assignment)
        for student in students:
            target = course / "submitted" / student / args.assignment
            target.mkdir(parents=True)
            shutil.copyfile(folder / f"{student}.ipynb", target / f"{args.assignment}.ipynb")
        nbgrader = [str(Path(bin_dir) / "nbgrader")]
        plain = run(nbgrader + ["autograde", args.assignment], course, env)
        feedback = run(nbgrader + ["generate_feedback", args.assignment], course, env)

    both = (plain[0] + feedback[0], plain[1] + feedback[1])
    print(line("nbgrader autograde", plain, n))
    print(line("nbgrader autograde + generate_feedback", both, n))
    print(line("python -m autograder grade", ours, n))
    print(f"  ratio grade / autograde: {ours[0] / plain[0]:.2f} wall, {ours[1] / plain[1]:.2f} CPU "
          f"(target <= 1.2); grade / (autograde + feedback): {ours[0] / both[0]:.2f} wall, "
          f"{ours[1] / both[1]:.2f} CPU")


if __name__ == "__main__":
    main()
