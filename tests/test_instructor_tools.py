"""The instructor's tools on generated classes: LMS downloads, item analysis, similarity, written
answers, late policy, overrides and exports, all from ``python -m autograder grade``.

One Canvas zip of a1_elman (a dozen notebooks with planted mistakes, two independent correct
styles and a planted copy) is graded once in a module fixture: a first run, then a manual score
entered through nbgrader's own gradebook API, then a second run with every instructor file
(nothing is regraded: the journal). A small Moodle folder is graded in a second fixture.
"""

import contextlib
import csv
import hashlib
import html
import io
import re
import zipfile
from datetime import datetime

import numpy as np
import pytest

from autograder import latepolicy, lms, similarity
from autograder.__main__ import main
from autograder.course import source_notebook
from autograder.authoring import answers
from grading import tree_hashes
from instructor_class import (A, BATCH_AXIS_MISTAKE, PLANTED_COPY, SHORTCUT_MISTAKE, STYLE_A, STYLE_B,
                              WH_T_MISTAKE, at, make_zip, notebook)

DEADLINE = "2026-03-10T23:59"
CANVAS = {  # member: (kind or bytes, zip time)
    "adamsann_101_9001_a1_elman.ipynb": ("solution", at(9)),
    "bakerbob_102_9002_a1_elman.ipynb": ("wh_t", at(9)),
    "clarkcara_103_9003_a1_elman.ipynb": ("wh_t+batch_axis", at(10, 23, 58)),
    "davisdan_LATE_104_9004_a1_elman.ipynb": ("no_tanh", at(12, 8)),  # 1 day 8 h late: 2 days
    "evanseve_105_9005_a1_elman.ipynb": ("solution", at(8)),  # first upload, superseded
    "evanseve_105_9015_a1_elman-1.ipynb": ("wh_t", at(9)),  # the resubmission is graded
    "fosterfay_106_9006_a1_elman.ipynb": ("style_a", at(9)),
    "greengus_107_9007_a1_elman.ipynb": ("copy", at(9)),
    "hillhal_108_9008_notes.pdf": (b"%PDF-1.4 not a notebook", at(9)),
    "ivyivan_109_9009_a1_elman.ipynb": ("not_json", at(9)),
    "jonesjo_110_9010_a1_elman.ipynb": ("batch_axis", at(9)),  # not in the roster
    "kingkim_111_9011_a1_elman.ipynb": ("blank", at(15)),  # zip time late, Canvas did not mark it
    "lopezlu_112_9012_a1_elman.ipynb": ("style_b", at(9)),
    "moranmo_LATE_113_9013_a1_elman.ipynb": ("rnn_ref", at(11, 10)),  # late, but has an extension
    "readme.txt": (b"downloaded from Canvas", at(9)),  # a name that does not parse
    "../ortizom_114_9014_a1_elman.ipynb": ("solution", at(9)),  # unsafe path: never unpacked
}
PLANTED = {WH_T_MISTAKE: {"bakerbob_102", "clarkcara_103", "evanseve_105"},
           BATCH_AXIS_MISTAKE: {"clarkcara_103", "jonesjo_110"},
           SHORTCUT_MISTAKE: {"moranmo_113"}}
ROSTER = [("101", "Ann Adams"), ("102", "Bob Baker"), ("103", "Cara Clark"), ("104", "Dan Davis"),
          ("105", "Eve Evans"), ("106", "Fay Foster"), ("107", "Gus Green"), ("108", "Hal Hill"),
          ("109", "Ivan Ivy"), ("111", "Kim King"), ("112", "Lu Lopez"), ("113", "Mo Moran"),
          ("114", "Om Ortiz"), ("115", "Nora Noor")]


def _csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def canvas(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("canvas")
    download = make_zip(tmp / "submissions.zip", {
        name: (kind if isinstance(kind, bytes) else notebook(kind), when)
        for name, (kind, when) in CANVAS.items()})
    before = hashlib.sha256(download.read_bytes()).hexdigest()
    out = tmp / "out"
    assert main(["grade", A, str(download), "--out", str(out), "--seed", "7", "--quiet"]) == 0

    # a written answer graded in nbgrader's formgrader, i.e. through its gradebook API
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}", "rnn-course") as gb:
        grade = gb.find_grade("written_shared_weights", A, A, "adamsann_101")
        grade.manual_score = 2
        comment = gb.find_comment("written_shared_weights", A, A, "adamsann_101")
        comment.manual_comment = "Clear on both points."
        gb.db.commit()

    files = {
        "roster": _csv(tmp / "roster.csv", [("id", "name", "email")] +
                       [(i, n, f"{n.split()[0].lower()}@uni.example") for i, n in ROSTER]),
        "extensions": _csv(tmp / "extensions.csv", [("student", "deadline"), ("113", "2026-03-12T23:59"),
                                                     ("ghost_999", "2026-03-20T23:59")]),
        "manual": _csv(tmp / "manual.csv", [("student", "question", "points", "comment", "grader"),
                                            ("fosterfay_106", "written_shared_weights", "1.5",
                                             "Misses the point about lengths.", "TA Lee"),
                                            ("lopezlu_112", "written_shared_weights", "2", "", "TA Lee"),
                                            ("greengus_107", "written_shared_weights", "5", "typo", "TA Lee")]),
        "overrides": _csv(tmp / "overrides.csv", [("student", "test", "points", "reason", "by"),
                                                  ("bakerbob_102", "test_forward_values", "2",
                                                   "the handout's figure showed Wh.T", "Prof. Rao"),
                                                  ("kingkim_111", "total", "5",
                                                   "graded on paper (medical leave)", "Prof. Rao")]),
        "gradebook": _csv(tmp / "canvas-export.csv", [
            ("Student", "ID", "SIS User ID", "SIS Login ID", "Section", "a1_elman (5551)",
             "a2_bptt (5552)", "Current Score", "Final Score"),
            ("    Points Possible", "", "", "", "", "25", "20", "(read only)", "(read only)"),
            *[(f"{n.split()[1]}, {n.split()[0]}", i, f"S{i}", n.split()[0].lower(), "RNN-1", "", "17",
               "", "") for i, n in ROSTER],
            ("Student, Test", "999", "", "", "RNN-1", "", "", "", "")]),
    }
    argv = ["grade", A, str(download), "--out", str(out), "--seed", "7", "--quiet",
            "--roster", str(files["roster"]), "--deadline", DEADLINE, "--late-per-day", "10",
            "--late-cap", "30", "--extensions", str(files["extensions"]), "--manual", str(files["manual"]),
            "--overrides", str(files["overrides"]), "--lms-gradebook", str(files["gradebook"])]
    journal = {p.name: p.stat().st_mtime_ns for p in (out / "journal").glob("*.json")}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(argv) == 0
    (out / "printed.txt").write_text(printed.getvalue())
    assert {p.name: p.stat().st_mtime_ns for p in (out / "journal").glob("*.json")} == journal
    assert hashlib.sha256(download.read_bytes()).hexdigest() == before, "the download was modified"
    return out, {row["student"]: row for row in _read(out / "grades.csv")}


# --- reading the download ------------------------------------------------------------------------

def test_every_student_of_the_download_and_the_roster_has_a_row(canvas):
    out, rows = canvas
    assert set(rows) == {"adamsann_101", "bakerbob_102", "clarkcara_103", "davisdan_104", "evanseve_105",
                         "fosterfay_106", "greengus_107", "hillhal_108", "ivyivan_109", "jonesjo_110",
                         "kingkim_111", "lopezlu_112", "moranmo_113", "Om_Ortiz_114", "Nora_Noor_115"}
    assert rows["Nora_Noor_115"]["reason"] == "no submission" and rows["Nora_Noor_115"]["final"] == "0"
    assert rows["Om_Ortiz_114"]["reason"] == "no submission"  # its only file had an unsafe path
    assert "no notebook in the submission" in rows["hillhal_108"]["reason"]
    assert "not a readable notebook" in rows["ivyivan_109"]["reason"]
    assert rows["adamsann_101"]["name"] == "Ann Adams" and rows["adamsann_101"]["email"] == "ann@uni.example"
    assert "not in the roster" in rows["jonesjo_110"]["notes"]


def test_the_latest_attempt_is_graded_and_the_others_reported(canvas):
    out, rows = canvas
    assert float(rows["evanseve_105"]["test_forward_values"]) == 0  # the resubmission (Wh.T)
    report = html.unescape((out / "report.html").read_text())
    assert "evanseve_105_9005_a1_elman.ipynb" in report and "duplicate" in report
    for member, words in (("readme.txt", "does not parse"), ("hillhal_108_9008_notes.pdf", "not a notebook"),
                          ("../ortizom_114", "unsafe"), ("jonesjo_110", "not in the roster"),
                          ("extensions.csv line 3", "unknown student 'ghost_999'")):
        assert re.search(re.escape(member) + r".{0,200}" + re.escape(words), report, re.S), member
    assert not (out / "lms").joinpath("..", "ortizom_114_9014_a1_elman.ipynb").exists()


# --- item analysis -------------------------------------------------------------------------------

def test_mistake_counts_in_report_and_items_equal_the_planted_ones(canvas):
    out, rows = canvas
    items = _read(out / "items.csv")
    mistakes = {r["id"]: int(r["students"]) for r in items if r["kind"] == "mistake"}
    for what, students in PLANTED.items():
        assert mistakes[what] == len(students), what
    no_tanh = [w for w in mistakes if "without the tanh" in w]
    assert no_tanh and all(mistakes[w] == 1 for w in no_tanh)  # davisdan only
    assert set(mistakes) == set(PLANTED) | set(no_tanh)
    report = (out / "report.html").read_text()
    assert "Your `hs` matches an Elman RNN with Wh transposed (h @ Wh.T)." in report


def test_item_statistics_agree_with_the_journal(canvas):
    """Mean, shares and point-biserial discrimination recomputed with numpy from the journal (the
    autograded points, before overrides) of the notebooks nbgrader graded."""
    import json

    out, _ = canvas
    items = {r["id"]: r for r in _read(out / "items.csv") if r["kind"] == "test"}
    entries = [json.loads(p.read_text())["result"] for p in (out / "journal").glob("*.json")]
    graded = [e for e in entries if not e["reason"]]
    assert len(graded) == 11
    tests = list(items)
    points = {t: np.array([e["scores"][t] for e in graded]) for t in tests}
    total = sum(points.values())
    checked = 0
    for t in tests:
        own, rest, top = points[t], total - points[t], float(items[t]["max_points"])
        assert float(items[t]["mean"]) == pytest.approx(own.mean(), abs=1e-3)
        assert float(items[t]["full"]) == pytest.approx(np.mean(own == top), abs=1e-3)
        assert float(items[t]["zero"]) == pytest.approx(np.mean(own == 0), abs=1e-3)
        if own.std() > 0:
            assert float(items[t]["discrimination"]) == pytest.approx(np.corrcoef(own, rest)[0, 1], abs=1e-3)
            checked += 1
        else:
            assert items[t]["discrimination"] == ""
    assert checked >= 5


def test_report_is_one_offline_file_with_embedded_figures_and_times(canvas):
    out, _ = canvas
    report = (out / "report.html").read_text()
    assert report.count("src='data:image/png;base64,") >= 2
    assert not re.search(r"(src|href)=['\"]https?:", report)
    assert "<link" not in report and "<script" not in report
    assert re.search(r"Seconds per submission.*mean \d+\.\d, median \d+\.\d, longest \d+\.\d", report)
    assert "ivyivan_109" in report.split("<h2>Not graded</h2>")[1]


# --- late policy, written answers, overrides, exports --------------------------------------------

def test_late_penalty_from_the_lms_times_with_extensions_and_cap(canvas):
    out, rows = canvas
    dan = rows["davisdan_104"]
    assert dan["late_days"] == "2" and float(dan["raw_max"]) == 25  # 23 tests, 2 written
    assert float(dan["penalty"]) == pytest.approx(0.2 * 25)
    assert float(dan["final"]) == pytest.approx(max(0, float(dan["raw"]) - 5))
    assert rows["moranmo_113"]["late_days"] == "0"  # extension to March 12
    assert rows["clarkcara_103"]["late_days"] == "0"  # one minute early
    assert rows["kingkim_111"]["late_days"] == "0"  # Canvas decides lateness: no _LATE_, not late


def test_written_answers_from_formgrader_and_csv_merge_into_grades_and_feedback(canvas):
    out, rows = canvas
    assert rows["adamsann_101"]["written_shared_weights"] == "2"  # entered through nbgrader's API
    assert float(rows["adamsann_101"]["final"]) == 25
    assert rows["fosterfay_106"]["written_shared_weights"] == "1.5"
    assert rows["bakerbob_102"]["written_shared_weights"] == ""  # not graded yet
    assert "written answers not graded yet" in rows["bakerbob_102"]["notes"]
    assert rows["greengus_107"]["written_shared_weights"] == ""
    assert "manual score 5 of written_shared_weights rejected" in rows["greengus_107"]["notes"]
    assert rows["adamsann_101"]["reason"] == ""  # an answered written question is no edited test
    page = (out / "feedback" / "adamsann_101.html").read_text()
    assert "Note from the grader" not in page
    assert page.count("<!-- autograder:final -->") == 1  # replaced on the second run, not added
    assert "Clear on both points." in page and "Your score: 25 / 25" in page
    assert "Misses the point about lengths." in (out / "feedback" / "fosterfay_106.html").read_text()


def test_the_summary_says_the_written_answers_wait_for_hand_grading(canvas):
    out, _ = canvas
    printed = (out / "printed.txt").read_text()
    assert re.search(r"Written answers \(written_shared_weights; 2 points\) are graded by hand: "
                     r"8 of 11 graded notebooks still wait", printed), printed
    assert "report.html" in printed and "canvas-import.csv" in printed and "feedback.zip" in printed


def test_overrides_are_applied_at_export_and_listed_with_who_and_why(canvas):
    out, rows = canvas
    assert rows["bakerbob_102"]["test_forward_values"] == "2"
    assert rows["kingkim_111"]["final"] == "5" and rows["kingkim_111"]["total"] == "0"
    overrides = (out / "report.html").read_text().split("<h2>Overrides</h2>")[1].split("<h2>")[0]
    for words in ("bakerbob_102", "the handout&#x27;s figure showed Wh.T", "Prof. Rao", "kingkim_111",
                  "graded on paper (medical leave)", "overrides.csv line 2"):
        assert words in overrides, words
    import json

    entry = json.loads((out / "journal" / "bakerbob_102.json").read_text())
    assert entry["result"]["scores"]["test_forward_values"] == 0  # the journal keeps the grading


def test_canvas_import_fills_the_assignment_column_of_the_instructors_export(canvas):
    out, rows = canvas
    with open(out / "canvas-import.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "a1_elman (5551)"]
    assert table[1][0].strip() == "Points Possible" and table[1][5] == "25"
    by_id = {r[1]: r[5] for r in table[2:]}
    assert by_id["101"] == "25"
    assert float(by_id["104"]) == pytest.approx(float(rows["davisdan_104"]["final"]))
    assert by_id["115"] == "" and by_id["999"] == ""  # no submission; the test student untouched
    assert "110" not in by_id
    assert "Canvas id 110" in (out / "report.html").read_text()


def test_feedback_zip_names_each_page_with_the_canvas_prefix(canvas):
    out, _ = canvas
    names = set(zipfile.ZipFile(out / "feedback.zip").namelist())
    assert "adamsann_101_9001_a1_elman-feedback.html" in names
    assert "davisdan_LATE_104_9004_a1_elman-feedback.html" in names
    assert "evanseve_105_9015_a1_elman-feedback.html" in names
    assert all(not n.startswith(("/", "..")) for n in names)


# --- similarity ----------------------------------------------------------------------------------

def test_similarity_flags_the_planted_copy_and_no_independent_pair(canvas):
    out, _ = canvas
    flagged = {frozenset((r["student_a"], r["student_b"])) for r in _read(out / "similarity.csv")
               if r["kind"] == "pair"}
    assert flagged == {frozenset(("fosterfay_106", "greengus_107"))}
    reference = {r["student_a"] for r in _read(out / "similarity.csv") if r["kind"] == "reference"}
    assert "adamsann_101" in reference
    assert not reference & {"fosterfay_106", "greengus_107", "lopezlu_112"}
    page = (out / "similarity.html").read_text()
    assert "not a verdict" in page and "class=\"hit\"" in page


def _answer(name, cells):
    """An Answer as grade builds it: the released notebook's stubs are the starter code."""
    import nbformat

    from autograder.course import NOTEBOOKS

    starters = similarity.answer_cells(nbformat.read(str(NOTEBOOKS / f"{A}.ipynb"), as_version=4))
    return similarity.make_answer(name, cells, starters)


def test_similarity_method_on_styles_copies_and_the_solution():
    solution = answers(source_notebook(A))
    renamed_a = {k: v.replace("h_t", "hidden_now").replace("cache_list", "saved") for k, v in STYLE_A.items()}
    pool = [_answer("a", STYLE_A), _answer("copy", PLANTED_COPY), _answer("b", STYLE_B),
            _answer("solution", solution), _answer("renamed", renamed_a)]
    pairs, matches = similarity.compare(pool, similarity.reference_answers(A))
    flagged = {frozenset((p.a, p.b)) for p in pairs}
    assert flagged == {frozenset(("a", "copy")), frozenset(("a", "renamed")), frozenset(("copy", "renamed"))}
    assert {m.a for m in matches} == {"solution"}
    copy = next(p for p in pairs if {p.a, p.b} == {"a", "copy"})
    assert copy.score > 0.9 and copy.lines_a and copy.lines_b


# --- Moodle --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def moodle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("moodle")
    folder = tmp / "download"
    files = {"Ann Adams_501_assignsubmission_file_/a1_elman.ipynb": notebook("solution"),
             "Bob Baker_502_assignsubmission_file_/a1_elman.ipynb": notebook("wh_t"),
             "Bob Baker_502_assignsubmission_file_/draft copy.ipynb": notebook("blank"),
             "Bob Baker_502_assignsubmission_onlinetext_/onlinetext.html": b"<p>see notebook</p>",
             "Cara Clark_503_assignsubmission_file_/report.pdf": b"%PDF-1.4"}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    worksheet = _csv(tmp / "worksheet.csv", [
        ("Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
         "Grade can be changed", "Last modified (submission)", "Last modified (grade)", "Feedback comments"),
        ("Participant 501", "Ann Adams", "ann@uni.example", "Submitted for grading", "", "18.00", "Yes",
         "Thursday, 12 March 2026, 9:15 AM", "-", ""),
        ("Participant 502", "Bob Baker", "bob@uni.example", "Submitted for grading", "", "18.00", "Yes",
         "Tuesday, 10 March 2026, 11:00 PM", "-", ""),
        ("Participant 503", "Cara Clark", "cara@uni.example", "Submitted for grading", "", "18.00", "Yes",
         "Tuesday, 10 March 2026, 11:00 PM", "-", ""),
        ("Participant 504", "Dan Davis", "dan@uni.example", "No submission", "", "18.00", "Yes", "-", "-", "")])
    roster = _csv(tmp / "roster.csv", [("id", "name", "email"), ("501", "Ann Adams", "ann@uni.example"),
                                       ("502", "Bob Baker", "bob@uni.example"), ("503", "Cara Clark", ""),
                                       ("504", "Dan Davis", "dan@uni.example")])
    out = tmp / "out"
    before = tree_hashes(folder)
    assert main(["grade", A, str(folder), "--out", str(out), "--seed", "3", "--quiet", "--jobs", "1",
                 "--roster", str(roster), "--deadline", "2026-03-10T23:59", "--lms-gradebook", str(worksheet)]) == 0
    assert tree_hashes(folder) == before, "grading changed the download folder"
    return out, {row["student"]: row for row in _read(out / "grades.csv")}


def test_moodle_folder_is_recognised_graded_and_exported(moodle):
    out, rows = moodle
    assert set(rows) == {"Ann_Adams_501", "Bob_Baker_502", "Cara_Clark_503", "Dan_Davis_504"}
    assert float(rows["Ann_Adams_501"]["total"]) == 23 and rows["Ann_Adams_501"]["late_days"] == "2"
    assert float(rows["Bob_Baker_502"]["test_forward_values"]) == 0  # the notebook named a1_elman
    assert "no notebook" in rows["Cara_Clark_503"]["reason"]
    assert rows["Dan_Davis_504"]["reason"] == "no submission"
    sheet = {r["Identifier"]: r for r in _read(out / "moodle-import.csv")}
    assert set(sheet) == {"Participant 501", "Participant 502", "Participant 503", "Participant 504"}
    assert float(sheet["Participant 501"]["Grade"]) == pytest.approx(23 - 0.2 * 25)
    assert sheet["Participant 504"]["Grade"] == ""
    assert "late 2 day(s)" in sheet["Participant 501"]["Feedback comments"]
    names = set(zipfile.ZipFile(out / "feedback.zip").namelist())
    assert "Ann Adams_501_assignsubmission_file_/a1_elman-feedback.html" in names
    report = (out / "report.html").read_text()
    assert "draft copy.ipynb" in report and "onlinetext" in report


# --- bad input, without grading ------------------------------------------------------------------

def test_a_corrupt_zip_is_a_clear_error_and_nothing_is_graded(tmp_path, capsys):
    bad = tmp_path / "download.zip"
    bad.write_bytes(b"PK\x03\x04 this zip was cut short")
    assert main(["grade", A, str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "is not a readable zip file" in capsys.readouterr().err
    assert bad.read_bytes() == b"PK\x03\x04 this zip was cut short"


def test_unsafe_zip_members_are_reported_not_unpacked(tmp_path):
    path = tmp_path / "d.zip"
    with zipfile.ZipFile(path, "w") as z:
        link = zipfile.ZipInfo("smithjo_1_2_a1_elman.ipynb")
        link.external_attr = 0o120777 << 16
        z.writestr(link, "/etc/passwd")
        z.writestr("/abs/olute_3_4_a1_elman.ipynb", "{}")
        z.writestr("goodgo_7_8_a1_elman.ipynb", notebook("blank"))
        z.writestr("bigbo_5_6_a1_elman.ipynb", "x" * (len(notebook("blank")) + 1))
    old = lms.MAX_MEMBER_BYTES
    lms.MAX_MEMBER_BYTES = len(notebook("blank"))
    try:
        download = lms.read_download(A, path, tmp_path / "unpacked")
    finally:
        lms.MAX_MEMBER_BYTES = old
    problems = dict(download.problems)
    assert "symbolic link" in problems["smithjo_1_2_a1_elman.ipynb"]
    assert "absolute" in problems["/abs/olute_3_4_a1_elman.ipynb"]
    assert "larger than" in problems["bigbo_5_6_a1_elman.ipynb"]
    assert [s.student for s in download.submissions if s.path] == ["goodgo_7"]
    unpacked = {str(p.relative_to(tmp_path / "unpacked")) for p in (tmp_path / "unpacked").rglob("*")}
    assert unpacked == {"goodgo_7_8_a1_elman.ipynb"}


def test_layouts_are_recognised_from_names():
    assert lms.detect(["smithjane_12_34_a1_elman.ipynb", "doejohn_LATE_56_78_a1_elman-2.ipynb"]) == "canvas"
    assert lms.detect(["Jane Smith_12_assignsubmission_file_/a1_elman.ipynb"]) == "moodle"
    assert lms.detect(["Jane Smith_12_assignsubmission_file_a1_elman.ipynb"]) == "moodle"  # flat, older Moodle
    assert lms.detect(["alice.ipynb", "bob/a1_elman/a1_elman.ipynb"]) is None


def test_days_late_count_each_part_of_a_day():
    policy = latepolicy.LatePolicy(latepolicy.parse_time("2026-03-10T23:59"), 10, 25)
    assert policy.days_late(datetime(2026, 3, 10, 23, 59), False)[0] == 0
    assert policy.days_late(datetime(2026, 3, 10, 23, 59, 1), False)[0] == 1
    assert policy.days_late(datetime(2026, 3, 11, 23, 59), False)[0] == 1
    assert policy.days_late(datetime(2026, 3, 12, 0, 0), False)[0] == 2
    assert policy.days_late(None, True)[0] == 1  # Canvas's _LATE_ without a time
    assert policy.days_late(datetime(2026, 3, 9), True)[0] == 1  # _LATE_ with an earlier time
    assert policy.penalty_percent(5) == 25  # the cap
    assert latepolicy.parse_time("2026-03-10T23:59+01:00") == datetime(2026, 3, 10, 22, 59)


# --- written questions in the assignments --------------------------------------------------------

@pytest.mark.parametrize("assignment", ["a1_elman", "a2_bptt", "a3_vanishing", "a4_lstm", "a5_gru",
                                        "a6_birnn", "a7_charlm"])
def test_each_assignment_ends_with_a_hand_graded_written_question_whose_answer_is_not_released(assignment):
    import nbformat

    from autograder.authoring import written_answers, written_ids
    from autograder.course import NOTEBOOKS

    questions = written_ids(source_notebook(assignment))
    assert 1 <= len(questions) <= 2 and all(points > 0 for _, points in questions)
    source = nbformat.read(str(source_notebook(assignment)), as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in source.cells]
    assert all(ids.index(gid) > len(ids) - 5 for gid, _ in questions)  # near the end
    released = nbformat.read(str(NOTEBOOKS / f"{assignment}.ipynb"), as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in released.cells}
    text = NOTEBOOKS.joinpath(f"{assignment}.ipynb").read_text()
    for gid, model in written_answers(source_notebook(assignment)).items():
        assert cells[gid].source == "YOUR ANSWER HERE" and cells[gid].cell_type == "markdown"
        assert model[:60] not in text


def test_an_unpacked_canvas_folder_and_a_moodle_zip_are_read_like_the_others(tmp_path):
    folder = tmp_path / "canvas"
    folder.mkdir()
    for name in ("smithjane_LATE_12_34_a1_elman.ipynb", "smithjane_LATE_12_35_a1_elman-1.ipynb",
                 "doejohn_56_78_a1_elman.ipynb", "doejon_56_77_a1_elman.ipynb"):  # renamed in the LMS
        (folder / name).write_bytes(notebook("blank"))
    download = lms.read_download(A, folder, tmp_path / "unused")
    assert download.kind == "canvas" and not (tmp_path / "unused").exists()  # a folder is read in place
    assert {s.student: s.path.name for s in download.submissions} == {
        "smithjane_12": "smithjane_LATE_12_35_a1_elman-1.ipynb", "doejohn_56": "doejohn_56_78_a1_elman.ipynb"}
    jane = download.entries["smithjane_12"]
    assert jane.late_mark and jane.submitted_at is None and jane.prefix == "smithjane_LATE_12_35_"
    assert {m for m, what in download.problems if "duplicate" in what} == {
        "smithjane_LATE_12_34_a1_elman.ipynb", "doejon_56_77_a1_elman.ipynb"}
    policy = latepolicy.LatePolicy(latepolicy.parse_time(DEADLINE), 10, 100)
    assert policy.days_late(jane.submitted_at, jane.late_mark)[0] == 1  # _LATE_, no time: one day

    path = make_zip(tmp_path / "moodle.zip", {
        "Jane Smith_4711_assignsubmission_file_/a1_elman.ipynb": (notebook("blank"), at(11, 1)),
        "John Doe_4712_assignsubmission_file_a1_elman.ipynb": (notebook("blank"), at(9))})  # flat, older Moodle
    download = lms.read_download(A, path, tmp_path / "unpacked")
    assert download.kind == "moodle"
    assert {s: e.submitted_at for s, e in download.entries.items()} == {"Jane_Smith_4711": at(11, 1),
                                                                       "John_Doe_4712": at(9)}
    assert download.entries["John_Doe_4712"].prefix == "John Doe_4712_assignsubmission_file_"


def test_instructor_files_are_checked_before_any_grading(tmp_path, capsys):
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.ipynb").write_bytes(notebook("blank"))
    manual = _csv(tmp_path / "manual.csv", [("student", "question", "score")])
    assert main(["grade", A, str(subs), "--out", str(tmp_path / "out"), "--manual", str(manual)]) == 2
    assert "missing column(s) points" in capsys.readouterr().err
    assert main(["grade", A, str(subs), "--out", str(tmp_path / "out"), "--deadline", "next friday"]) == 2
    assert "not a date and time: 'next friday'" in capsys.readouterr().err
    assert main(["grade", A, str(subs), "--out", str(tmp_path / "out"), "--roster", str(tmp_path / "no.csv")]) == 2
    assert "--roster: no file at" in capsys.readouterr().err
    export = _csv(tmp_path / "canvas.csv", [("Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Quiz 1 (77)")])
    assert main(["grade", A, str(subs), "--out", str(tmp_path / "out"), "--lms-gradebook", str(export)]) == 2
    assert "--lms-column" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
