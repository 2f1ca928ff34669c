"""Which version of the student package a submission was checked with (its first cell prints it)."""

import re

_PRINTED = re.compile(r"rnn-course-student (\S+)")


def checked_version(nb):
    """The rnn-course-student version printed in the outputs of notebook ``nb``, or None."""
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            found = _PRINTED.search(str(out.get("text", "")))
            if found:
                return found.group(1)
    return None


def version_note(nb, graded_with=None):
    """A note when ``nb`` was checked with another rnn-course-student than the grader's ("" if not)."""
    if graded_with is None:
        from rnn_course import __version__ as graded_with
    checked = checked_version(nb)
    if checked is None or checked == graded_with:
        return ""
    return (f"your notebook was checked with rnn-course-student {checked}; it was graded with "
            f"{graded_with}, whose visible tests may differ")
