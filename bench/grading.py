"""``python -m bench.grading``: seconds per submission of ``python -m autograder grade`` against plain
``nbgrader autograde`` on the same submissions, in the same run.

Both commands run as subprocesses on identical copies of COUNT submissions (solved and blank
student copies in turn, 40 by default) with the same test seed, ROUNDS times (2 by default),
alternating which of the two runs first, so that both meet the same changes of load on a shared
machine. The plain nbgrader run gets a course directory prepared beforehand (source, generated
assignment, submitted/ folders), so its time is autograding alone; ``grade`` is timed from the
command line to its CSV, course set-up, feedback and reports included. A second plain figure
adds ``nbgrader generate_feedback``, the work ``grade`` also does. The speed-up is plain
autograde / grade, per round and best against best; the target is at least 3. Last, the time
of the work that grades (every code cell of a solved notebook in one warm Python process) is
printed, and how many times that a submission costs in ``grade``.

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
from bench.environment import cpu_description


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


def checks_work(assignment, rounds=3):
    """Seconds of the work that grades: every code cell of a solved notebook (answers, visible and
    hidden tests) run in one warm Python process, best of ``rounds`` after a first, warming run."""
    code = (
        "import sys, time, nbformat\n"
        "from autograder.authoring import answers, fill\n"
        "from autograder.course import NOTEBOOKS, source_notebook\n"
        "a, rounds = sys.argv[1], int(sys.argv[2])\n"
        "source = nbformat.read(str(source_notebook(a)), as_version=4)\n"
        "cells = [c.source for c in source.cells if c.cell_type == 'code']\n"
        "compiled = [compile(c, f'<cell {i}>', 'exec') for i, c in enumerate(cells)]\n"
        "times = []\n"
        "for r in range(rounds + 1):\n"
        "    ns = {'__name__': '__main__'}\n"
        "    t = time.perf_counter()\n"
        "    for cell in compiled:\n"
        "        exec(cell, ns)\n"
        "    times.append(time.perf_counter() - t)\n"
        "print(min(times[1:]))\n")
    env = dict(os.environ, AUTOGRADER_SEED="2024", MPLBACKEND="Agg", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", code, assignment, str(rounds)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the checks' own work could not be timed:\n{done.stderr[-2000:]}")
    return float(done.stdout.split()[-1])


def plain_course(tmp, assignment, folder, students):
    """A course directory for plain nbgrader: source, generated assignment, submitted/ copies."""
    course = tmp
    generate_assignment(make_course_dir(course, assignment), assignment)
    for student in students:
        target = course / "submitted" / student / assignment
        target.mkdir(parents=True)
        shutil.copyfile(folder / f"{student}.ipynb", target / f"{assignment}.ipynb")
    return course


def line(label, seconds, n):
    wall, cpu = seconds
    return f"  {label:<40} {wall:7.1f} s wall {wall / n:5.2f} s/submission   {cpu:7.1f} s CPU {cpu / n:5.2f} s/submission"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="a4_lstm")
    parser.add_argument("--count", type=int, default=None,
                        help="number of submissions (default 20; 6 with --profile)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of both programs, alternating which runs first (default 2)")
    parser.add_argument("--grade-only", action="store_true",
                        help="time `grade` alone, without the plain nbgrader baseline "
                             "(e.g. --assignment a4_lstm --count 100)")
    parser.add_argument("--profile", action="store_true",
                        help="where the time goes, part by part, for a small class (default count 6)")
    parser.add_argument("--grade-options", default="", metavar="OPTIONS",
                        help="extra options for grade, e.g. \"--jobs 1 --sandbox off\"")
    args = parser.parse_args(argv)
    args.count = args.count or (6 if args.profile else 40)
    if args.profile:
        from bench import grading_profile

        with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
            folder = Path(tmp) / "submissions"
            write_submissions(folder, args.assignment, args.count)
            grading_profile.main(args.assignment, folder)
        return

    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, AUTOGRADER_SEED="2024", PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    nbgrader = [str(Path(bin_dir) / "nbgrader")]
    n = args.count
    times = {"plain": [], "feedback": [], "grade": []}
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        tmp = Path(tmp)
        folder = tmp / "submissions"
        students = write_submissions(folder, args.assignment, n)
        grade_argv = [sys.executable, "-m", "autograder", "grade", args.assignment, str(folder),
                      "--quiet", "--seed", "2024", *shlex.split(args.grade_options)]
        load = [os.getloadavg()[0]]
        for r in range(args.rounds):
            # both programs on fresh copies, one after the other, the order swapped every round
            order = ["grade", "plain"] if r % 2 == 0 else ["plain", "grade"]
            for which in order:
                if which == "grade":
                    times["grade"].append(run(grade_argv + ["--out", str(tmp / f"out-{r}")], ROOT, env))
                elif not args.grade_only:
                    course = plain_course(tmp / f"plain-{r}", args.assignment, folder, students)
                    times["plain"].append(run(nbgrader + ["autograde", args.assignment], course, env))
                    times["feedback"].append(run(nbgrader + ["generate_feedback", args.assignment], course, env))
            load.append(os.getloadavg()[0])
    work = checks_work(args.assignment)
    print(f"{n} submissions of {args.assignment} (solved and blank in turn), {args.rounds} rounds "
          f"alternating; CPU: {cpu_description()}; load average "
          f"{min(load):.1f} to {max(load):.1f}; grade options: {args.grade_options or '(defaults)'}")
    best = {k: min(v, key=lambda t: t[0]) for k, v in times.items() if v}
    if args.grade_only:
        print(line("python -m autograder grade (best round)", best["grade"], n))
    else:
        both = [(p[0] + f[0], p[1] + f[1]) for p, f in zip(times["plain"], times["feedback"])]
        print(line("nbgrader autograde (best round)", best["plain"], n))
        print(line("nbgrader autograde + generate_feedback", min(both), n))
        print(line("python -m autograder grade (best round)", best["grade"], n))
        ratios = [p[0] / g[0] for p, g in zip(times["plain"], times["grade"])]
        print(f"  speed-up per submission, plain autograde / grade, wall: {min(ratios):.2f} to "
              f"{max(ratios):.2f} over the rounds (best against best {best['plain'][0] / best['grade'][0]:.2f}; "
              f"target >= 3); with nbgrader's feedback: {min(both)[0] / best['grade'][0]:.2f}")
    print(f"  the checks' own work (every code cell of a solved notebook, one warm process): "
          f"{work:.3f} s; grade per submission is {best['grade'][0] / n / work:.1f} times that")


if __name__ == "__main__":
    main()
