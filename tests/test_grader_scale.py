"""Grading a large class: a shared PostgreSQL gradebook written by two sharded graders at once.

The PostgreSQL server is real (tests/postgres.py starts one on loopback for the session).
A grader killed halfway resumes; parallel jobs and regrading are tested on the bad-input
corpus (test_grader_badinput.py).
"""

import csv
import glob
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest
from nbgrader.api import Gradebook

from autograder.containment import RUN_PREFIX
from autograder.database import gradebook_url, in_shard, parse_shard, shard_of
from postgres import postgres_server  # noqa: F401 (session fixture)

COURSE = "rnn-course"


def test_gradebook_url_defaults_to_sqlite_and_picks_the_installed_postgresql_driver(tmp_path):
    assert gradebook_url(None, tmp_path) == f"sqlite:///{tmp_path.resolve()}/gradebook.db"
    assert gradebook_url("postgresql://u@h/db", tmp_path) == "postgresql+psycopg2://u@h/db"
    assert gradebook_url("postgresql+psycopg2://u@h/db", tmp_path) == "postgresql+psycopg2://u@h/db"
    for bad in ("mysql://u@h/db", "gradebook.db", "postgres:/x"):
        with pytest.raises(ValueError, match="--db"):
            gradebook_url(bad, tmp_path)


def test_shards_split_the_class_exactly_once():
    students = [f"student-{k}" for k in range(300)]
    for m in (1, 2, 3, 7):
        parts = [[s for s in students if in_shard(s, (k, m))] for k in range(1, m + 1)]
        assert sorted(sum(parts, [])) == sorted(students)
        assert min(map(len, parts)) > 300 / m / 2  # no shard left nearly empty
    assert shard_of("alice", 5) == shard_of("alice", 5)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "2", "a/b", "1/0"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


def test_two_sharded_graders_fill_one_postgresql_gradebook(postgres_server, tmp_path):
    """Two `grade --shard K/2 --db postgresql://...` commands at once: every student graded once."""
    from fixtures.bad_submissions import ASSIGNMENT, FULL, corpus

    bad = corpus()
    kinds = [bad["good_a"], bad["infinite_loop"].replace(b"while True", b"while False")]  # 23 and 23
    candidates = [f"student{k}" for k in range(40)]
    picked = {1: [s for s in candidates if in_shard(s, (1, 2))][:2],  # one notebook each, and
              2: [s for s in candidates if in_shard(s, (2, 2))][:1]}  # one unreadable file
    subs = tmp_path / "subs"
    subs.mkdir()
    students = picked[2] + picked[1]
    for n, student in enumerate(students):
        (subs / f"{student}.ipynb").write_bytes(kinds[n % 2] if n != len(students) - 1 else b"{}")
    url = postgres_server.new_database()
    graders = [subprocess.Popen([sys.executable, "-m", "autograder", "grade", ASSIGNMENT, str(subs),
                                 "--out", str(tmp_path / f"out{k}"), "--db", url, "--shard", f"{k}/2",
                                 "--seed", "3", "--quiet"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for k in (1, 2)]
    logs = [g.communicate(timeout=600)[0] for g in graders]
    assert [g.returncode for g in graders] == [0, 0], "\n=====\n".join(logs)
    rows = {}
    for k in (1, 2):
        with open(tmp_path / f"out{k}" / "grades.csv", newline="") as f:
            part = {r["student"]: float(r["total"]) for r in csv.DictReader(f)}
        assert sorted(part) == sorted(picked[k])
        rows.update(part)
    assert rows == {s: (0.0 if s == students[-1] else FULL) for s in students}, "".join(open(tmp_path / f"out{k}" / "grades.csv").read() for k in (1, 2)) + "\n=====\n".join(logs)
    with Gradebook(gradebook_url(url, None), COURSE) as gb:
        graded = {s.id: gb.find_submission(ASSIGNMENT, s.id).score for s in gb.students}
    assert graded == {s: FULL for s in students[:-1]}  # the unreadable one never reached nbgrader


def test_a_killed_run_resumes_with_the_submissions_it_had_not_graded(tmp_path):
    """SIGKILL the grader after its first result; the same command then grades only the rest."""
    from fixtures.bad_submissions import ASSIGNMENT, FULL, corpus

    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    students = [f"s{k}" for k in range(4)]
    for student in students:
        (subs / f"{student}.ipynb").write_bytes(corpus()["good_a"])
    argv = [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, str(subs), "--out", str(out),
            "--seed", "4", "--jobs", "1", "--quiet"]
    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    journal = out / "journal"
    while first.poll() is None and not list(journal.glob("s*.json")):
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    done_before = sorted(p.stem for p in journal.glob("s*.json"))
    assert 1 <= len(done_before) < len(students)
    stamps = {s: (journal / f"{s}.json").stat().st_mtime_ns for s in done_before}
    subprocess.run(argv, check=True, capture_output=True, timeout=600)
    with open(out / "grades.csv", newline="") as f:
        assert {r["student"]: float(r["total"]) for r in csv.DictReader(f)} == dict.fromkeys(students, FULL)
    assert {s: (journal / f"{s}.json").stat().st_mtime_ns for s in done_before} == stamps
    # the killed run could not remove its kernelspec folder; the next run did
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"{RUN_PREFIX}{first.pid}-*"))
