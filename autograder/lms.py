"""An LMS's submission download (Canvas or Moodle, a zip or its unpacked folder) as Submissions.

Layouts, recognised from the names alone:

- **Canvas** "Download submissions": one file per uploaded file, flat,
  ``lastnamefirstname_<userid>_<submissionid>_<file>`` (``lastnamefirstname_LATE_<userid>_...``
  when Canvas marked it late). A file re-uploaded under the same name gets ``-1``, ``-2`` before
  its extension (``a1_elman-2.ipynb``).
- **Moodle** "Download all submissions": a folder per participant and plugin,
  ``Full Name_<participantid>_assignsubmission_file_/<file>`` (older Moodle writes the same prefix
  on flat files: ``Full Name_<id>_assignsubmission_file_<file>``).

Per student the latest attempt is graded (highest resubmission number, then submission id, then
zip time); the others are reported as duplicates, as are files that are not notebooks and names
that do not parse. Zips are read defensively (:func:`safe_members`): no links, no absolute or
``..`` paths, caps on member count and sizes; the download itself is only ever read.
"""

import re
import stat
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from .grade import Submission, safe_name, student_id

CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?P<late>_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
MOODLE = re.compile(r"^(?P<name>[^/]+?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>[a-z]+)_(?P<rest>.*)$")
ATTEMPT = re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)$")

MAX_MEMBERS = 20000
MAX_MEMBER_BYTES = 50 * 2**20  # one file
MAX_TOTAL_BYTES = 2 * 2**30  # the whole download, unpacked


class LmsError(ValueError):
    """A download that cannot be read at all (corrupt zip, unsafe zip, unknown layout)."""


@dataclass
class LmsEntry:
    """What the LMS says about the file graded for one student."""

    student: str  # the grader's id: <name>_<lms id>
    lms_id: str  # Canvas user id or Moodle participant id
    name: str  # as in the file name: "smithjane" (Canvas) or "Jane Smith" (Moodle)
    member: str  # the path in the download
    prefix: str  # the LMS's own prefix: feedback files named with it go back to this student
    attempt: int = 0  # Canvas resubmission number (0: first upload)
    submission_id: int = 0
    late_mark: bool = False  # Canvas's _LATE_
    submitted_at: datetime | None = None  # the zip entry's time (as the LMS wrote it)


@dataclass
class Download:
    """A read download: the submissions to grade and what was found on the way."""

    kind: str  # "canvas" or "moodle"
    source: Path
    submissions: list = field(default_factory=list)  # [Submission]
    entries: dict = field(default_factory=dict)  # student -> LmsEntry of the graded file
    problems: list = field(default_factory=list)  # [(member, what)]


# --- reading a zip safely ------------------------------------------------------------------------

def _unsafe(info):
    """Why the zip member ``info`` must not be unpacked, or ""."""
    name = info.filename
    if "\\" in name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute or Windows path"
    if any(part == ".." for part in PurePosixPath(name).parts):
        return "'..' in the path"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no Unix type recorded
        return "not a regular file"
    if info.file_size > MAX_MEMBER_BYTES:
        return f"larger than {MAX_MEMBER_BYTES // 2**20} MB"
    return ""


def safe_members(zip_path):
    """[(ZipInfo, problem)] of the zip's file members; LmsError for a corrupt or oversized zip."""
    try:
        with zipfile.ZipFile(zip_path) as z:
            infos = [i for i in z.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise LmsError(f"{zip_path} is not a readable zip file ({exc}); download it again "
                       f"from the LMS") from None
    if len(infos) > MAX_MEMBERS:
        raise LmsError(f"{zip_path} holds {len(infos)} files, more than {MAX_MEMBERS}")
    if sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        raise LmsError(f"{zip_path} unpacks to more than {MAX_TOTAL_BYTES // 2**30} GB")
    return [(i, _unsafe(i)) for i in infos]


def _extract(z, info, target):
    """Copy one member to ``target``, reading at most the cap (a lying size header stops there)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with z.open(info) as src, open(target, "wb") as dst:
        left = MAX_MEMBER_BYTES + 1
        while chunk := src.read(min(1 << 20, left)):
            dst.write(chunk)
            left -= len(chunk)
            if left <= 0:
                raise LmsError("larger than its header says")


# --- listing -------------------------------------------------------------------------------------

def _listing(source, unpack_dir):
    """[(member path, local file or None, time or None, problem)] of a zip or a folder."""
    source = Path(source)
    if source.is_file():
        rows = []
        members = safe_members(source)
        unpack_dir = Path(unpack_dir)
        with zipfile.ZipFile(source) as z:
            for info, problem in members:
                when = datetime(*info.date_time)
                local = None
                if not problem:
                    local = unpack_dir / info.filename
                    try:
                        _extract(z, info, local)
                    except (zipfile.BadZipFile, LmsError, OSError, EOFError, ValueError) as exc:
                        problem, local = f"cannot be unpacked ({exc})", None
                rows.append((info.filename, local, when, problem))
        return rows
    return [(str(p.relative_to(source)), p, None, "") for p in sorted(source.rglob("*"))
            if p.is_file() and not any(part.startswith(".") or part == "__pycache__"
                                       for part in p.relative_to(source).parts)]


def detect(names):
    """"canvas", "moodle" or None from the top-level names of a download."""
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].startswith((".", "__MACOSX"))}
    if not tops:
        return None
    moodle = sum(bool(MOODLE.match(t)) for t in tops)
    canvas = sum(bool(CANVAS.match(t)) and "/" not in t for t in tops)
    if max(moodle, canvas) * 2 < len(tops):  # most names must parse
        return None
    return "moodle" if moodle >= canvas else "canvas"


def is_download(source):
    """Whether ``source`` (a zip file or a folder) is a Canvas or Moodle download."""
    source = Path(source)
    if source.is_file():
        return zipfile.is_zipfile(source) or source.suffix.lower() == ".zip"
    if not source.is_dir():
        return False
    return detect([str(p.relative_to(source)) for p in source.iterdir()]) is not None


# --- parsing names -------------------------------------------------------------------------------

def _canvas_entry(member, when):
    m = CANVAS.match(member)
    if not m or "/" in member:
        return None
    filename = m["file"]
    stem, dot, ext = filename.rpartition(".")
    attempt, base = 0, filename
    if dot:
        a = ATTEMPT.match(stem)
        if a:
            attempt, base = int(a["n"]), f"{a['stem']}.{ext}"
    prefix = member[: len(member) - len(filename)]
    entry = LmsEntry(lms_id(m["name"], m["uid"]), m["uid"], m["name"], member, prefix,
                     attempt, int(m["sid"]), bool(m["late"]), when)
    return entry, base


def lms_id(name, lms_user_id):
    """The student id of an LMS participant: the name made safe, then the LMS's own id, which is
    unique, so no suffix is needed (``Jane Smith``, 4711 -> ``Jane_Smith_4711``)."""
    return student_id(f"{safe_name(name) or 'student'}_{lms_user_id}")


def _moodle_entry(member, when):
    top, _, inner = member.partition("/")
    m = MOODLE.match(top)
    if not m:
        return None
    if inner:  # folder layout: <prefix>/<file>
        prefix, filename = top + "/", inner
    else:  # flat layout: <prefix><file>
        filename = m["rest"]
        prefix = member[: len(member) - len(filename)]
    if m["plugin"] != "file":
        filename = f"({m['plugin']}) {filename}"
    entry = LmsEntry(lms_id(m["name"], m["pid"]), m["pid"], m["name"], member, prefix,
                     submitted_at=when)
    return entry, filename


def read_download(assignment, source, unpack_dir):
    """Read a Canvas or Moodle download (zip or folder); returns a :class:`Download`.

    A zip is unpacked into ``unpack_dir`` (the grader's copy); the files of a folder are graded
    where they are (read only). LmsError when the zip is unreadable or its layout unknown.
    """
    source = Path(source)
    rows = _listing(source, unpack_dir)
    kind = detect([member for member, *_ in rows])
    if kind is None:
        raise LmsError(f"{source} is neither a Canvas download (lastnamefirstname_<userid>_"
                       f"<submissionid>_<file>) nor a Moodle one (Full Name_<id>_assignsubmission_"
                       f"file_/<file>); unpack it and pass the folder of <student>.ipynb files")
    download = Download(kind, source)
    parse = _canvas_entry if kind == "canvas" else _moodle_entry
    candidates = {}  # student -> [(sort key, entry, local path, base name)]
    seen, ids = {}, {}
    for member, local, when, problem in rows:
        if PurePosixPath(member).name.startswith(".") or member.startswith("__MACOSX"):
            continue
        if problem:
            download.problems.append((member, f"unsafe or unreadable zip member ({problem}): "
                                      f"not unpacked, not graded"))
            continue
        parsed = parse(member, when)
        if parsed is None:
            download.problems.append((member, "file name does not parse as a "
                                      f"{kind.capitalize()} submission: not graded"))
            continue
        entry, base = parsed
        entry.student = ids.setdefault(entry.lms_id, entry.student)  # one student per LMS id
        seen.setdefault(entry.student, entry)
        if not base.lower().endswith(".ipynb"):
            download.problems.append((member, f"not a notebook ({base}): not graded"))
            continue
        named = PurePosixPath(base).stem == assignment
        key = (entry.attempt, entry.submission_id, when or datetime.min, named, member)
        candidates.setdefault(entry.student, []).append((key, entry, local, base))
    for student in sorted(seen):
        found = sorted(candidates.get(student, []), key=lambda c: c[0])
        if not found:
            download.submissions.append(Submission(student, None, "no notebook in the submission"))
            download.entries[student] = seen[student]
            continue
        _, entry, local, _ = found[-1]
        for _, older, _, _ in found[:-1]:
            download.problems.append((older.member, f"duplicate: {student} handed in "
                                      f"{entry.member} later; this one is not graded"))
        download.submissions.append(Submission(student, Path(local)))
        download.entries[student] = entry
    if not download.submissions:
        raise LmsError(f"no submissions in {source}")
    return download
