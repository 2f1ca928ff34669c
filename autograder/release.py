"""``python -m autograder release``: regenerate notebooks/<id>.ipynb from solutions/<id>/."""

import shutil
import tempfile
from pathlib import Path

from .course import ASSIGNMENTS, NOTEBOOKS, available_assignments, generate_assignment, make_course_dir


def release(assignments=None, out_dir=NOTEBOOKS, log=print):
    """Generate the student version of each assignment with nbgrader and copy it to ``out_dir``.

    assignments: ids to release (default: every assignment that has a source).
    Returns the list of written paths.
    """
    assignments = list(assignments or available_assignments())
    for missing in sorted(set(ASSIGNMENTS) - set(available_assignments()) - set(assignments)):
        log(f"{missing}: no source notebook yet, skipped")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:  # one course, one gradebook
        for assignment in assignments:
            api = make_course_dir(tmp, assignment)
            released = generate_assignment(api, assignment)
            target = out_dir / f"{assignment}.ipynb"
            shutil.copyfile(released, target)
            log(f"{assignment}: wrote {target}")
            written.append(target)
    return written
