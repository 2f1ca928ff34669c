"""Files the LMS imports: the Canvas gradebook, Moodle's grading worksheet, the feedback zip.

- ``canvas-import.csv``: the instructor's own Canvas gradebook export (``--lms-gradebook``),
  with the assignment's column filled in and the columns Canvas computes left out. Canvas
  matches rows by its ``ID`` (the user id in the download's file names). Its second row,
  ``Points Possible``, is kept.
- ``moodle-import.csv``: Moodle's offline grading worksheet ("Upload grading worksheet"):
  ``Identifier`` is ``Participant <id>`` (the id in the download's folder names), ``Grade`` the
  final score. When ``--lms-gradebook`` is a worksheet downloaded from Moodle, its rows are
  kept and filled in; otherwise the worksheet is written from the download and the roster.
- ``feedback.zip``: each student's feedback page named with the LMS's own prefix of their
  submission (Canvas: ``lastnamefirstname_<userid>_<submissionid>_``; Moodle: the participant's
  ``Full Name_<id>_assignsubmission_file_/`` folder), so Canvas's "Re-upload submissions" and
  Moodle's "Upload multiple feedback files in a zip" return each to its student. Without an LMS
  download the pages are ``<student>.html``.

Students with no submission are left blank in the imports (enter 0 or excuse them in the LMS).
"""

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path

CANVAS_FIXED = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section")
MOODLE_COLUMNS = ("Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                  "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                  "Feedback comments")


class ExportError(ValueError):
    """A gradebook file that cannot be filled in."""


@dataclass
class RosterEntry:
    lms_id: str
    name: str
    email: str = ""
    student: str = ""  # the grader's id when given (plain folders)


def read_roster(path):
    """[RosterEntry] from a CSV with columns ``id`` (LMS id) and ``name``, optional ``email`` and
    ``student`` (the file or folder name of a plain submissions folder)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "id" not in reader.fieldnames or "name" not in reader.fieldnames:
            raise ExportError(f"{path}: a roster needs the columns id and name (and optionally "
                              f"email, student); found {', '.join(reader.fieldnames or [])}")
        return [RosterEntry(r["id"].strip(), r["name"].strip(), (r.get("email") or "").strip(),
                            (r.get("student") or "").strip()) for r in reader if (r.get("id") or "").strip()]


def kind_of_gradebook(path):
    """"canvas" or "moodle" from a gradebook file's header; ExportError otherwise."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        header = next(csv.reader(f), [])
    if header[:2] == ["Student", "ID"]:
        return "canvas"
    if header and header[0] == "Identifier" and "Grade" in header:
        return "moodle"
    raise ExportError(f"{path} is neither a Canvas gradebook export (first columns Student, ID) "
                      f"nor a Moodle grading worksheet (first column Identifier)")


def canvas_column(header, assignment, column=None):
    """The header of the assignment's column in a Canvas export."""
    if column:
        if column not in header:
            raise ExportError(f"column {column!r} is not in the Canvas gradebook")
        return column
    hits = [h for h in header if assignment.lower() in h.lower()]
    if len(hits) != 1:
        raise ExportError(f"{'no' if not hits else 'several'} column(s) of the Canvas gradebook "
                          f"name {assignment}{': ' + ', '.join(hits) if hits else ''}; pass "
                          f"--lms-column with the assignment's column header")
    return hits[0]


def write_canvas(gradebook, scores, assignment, out_path, column=None):
    """Fill the assignment column of a Canvas export. scores: {Canvas user id: points or None}.

    Returns the ids of the export not in ``scores`` (left as they were) and those of ``scores``
    not in the export.
    """
    with open(gradebook, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    col = canvas_column(header, assignment, column)
    keep = [header.index(c) for c in CANVAS_FIXED if c in header] + [header.index(col)]
    at = header.index(col)
    seen, untouched = set(), []
    out = [[header[i] for i in keep]]
    for row in rows[1:]:
        row = row + [""] * (len(header) - len(row))
        user = row[1].strip()
        if user in scores:
            value = scores[user]
            row[at] = "" if value is None else f"{value:g}"
            seen.add(user)
        elif row[0].strip() and user:
            untouched.append(user)
        out.append([row[i] for i in keep])
    with open(out_path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(out)
    return untouched, sorted(set(scores) - seen)


def write_moodle(rows, maximum, out_path, worksheet=None):
    """Moodle's grading worksheet. rows: [(participant id, full name, email, points or None,
    feedback comment)]. With ``worksheet`` (Moodle's own), its rows are kept and filled in."""
    by_id = {r[0]: r for r in rows}
    out = []
    if worksheet:
        with open(worksheet, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames
            for line in reader:
                pid = line["Identifier"].replace("Participant", "").strip()
                if pid in by_id:
                    _, _, _, points, comment = by_id.pop(pid)
                    line["Grade"] = "" if points is None else f"{points:g}"
                    if "Feedback comments" in line and comment:
                        line["Feedback comments"] = comment
                out.append(line)
    else:
        fields = list(MOODLE_COLUMNS)
    for pid, name, email, points, comment in by_id.values():
        out.append({"Identifier": f"Participant {pid}", "Full name": name, "Email address": email,
                    "Status": "Submitted for grading" if points is not None else "No submission",
                    "Grade": "" if points is None else f"{points:g}",
                    "Maximum Grade": f"{maximum:g}", "Grade can be changed": "Yes",
                    "Last modified (submission)": "-", "Last modified (grade)": "-",
                    "Feedback comments": comment})
    with open(out_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(out)


def read_worksheet_times(worksheet):
    """{participant id: "Last modified (submission)" text} of a Moodle grading worksheet."""
    with open(worksheet, newline="", encoding="utf-8-sig") as f:
        return {r["Identifier"].replace("Participant", "").strip(): r.get("Last modified (submission)", "")
                for r in csv.DictReader(f)}


def write_feedback_zip(pages, out_path):
    """pages: {name in the zip: feedback file}. Written to a temporary name, then moved."""
    tmp = Path(str(out_path) + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, page in sorted(pages.items()):
            if page and Path(page).is_file():
                z.write(page, name)
    tmp.replace(out_path)
