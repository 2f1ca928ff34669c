"""The late policy: a deadline, a penalty per day or part of a day, a cap, per-student extensions.

Penalties are percentages of the assignment's maximum points. A submission 1 second to 24 hours
late is one day late, 24 h and 1 s is two days, and so on. When the LMS gives no time (an
unpacked Canvas folder) but marks the file late (Canvas's ``_LATE_``), it counts as one day late,
and the row says so.
"""

import csv
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path


class PolicyError(ValueError):
    """A deadline, policy or extensions file that cannot be read."""


def parse_time(text):
    """A naive datetime from ISO 8601 ("2026-03-01T23:59", "2026-03-01 23:59:00+01:00" in UTC)."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PolicyError(f"not a date and time: {text!r} (expected e.g. 2026-03-01T23:59)") from None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when


@dataclass
class LatePolicy:
    deadline: datetime
    percent_per_day: float = 10.0
    cap_percent: float = 100.0
    extensions: dict = field(default_factory=dict)  # student or LMS id -> deadline

    def deadline_for(self, *keys):
        for key in keys:
            if key in self.extensions:
                return self.extensions[key]
        return self.deadline

    def days_late(self, submitted_at, late_mark, *keys):
        """(whole days late, where that came from) for one submission."""
        deadline = self.deadline_for(*keys)
        if submitted_at is not None:
            late = submitted_at - deadline
            days = math.ceil(late / timedelta(days=1)) if late > timedelta(0) else 0
            if days == 0 and late_mark and deadline == self.deadline:
                return 1, (f"marked late by the LMS, but its time {submitted_at:%Y-%m-%d %H:%M} is "
                           f"not after the deadline: counted as 1 day")
            return days, f"submitted {submitted_at:%Y-%m-%d %H:%M}, due {deadline:%Y-%m-%d %H:%M}"
        if late_mark:
            if deadline != self.deadline:
                return 0, "marked late by the LMS, but an extension applies and the LMS gave no time"
            return 1, "marked late by the LMS (_LATE_), no time given: counted as 1 day"
        return 0, ""

    def penalty_percent(self, days):
        return min(self.cap_percent, days * self.percent_per_day)


def read_extensions(path, known):
    """{student or LMS id: deadline} from a CSV with columns ``student`` and ``deadline`` (or
    ``days``: days added to the course deadline, see :func:`apply_days`); unknown ids reported.

    known: the ids that exist (graded students and LMS ids). Returns (extensions, problems).
    """
    extensions, problems = {}, []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "student" not in reader.fieldnames or not (
                {"deadline", "days"} & set(reader.fieldnames)):
            raise PolicyError(f"{path}: expected columns student and deadline (or days); "
                              f"found {', '.join(reader.fieldnames or [])}")
        for line, row in enumerate(reader, start=2):
            key = (row.get("student") or "").strip()
            if key not in known:
                problems.append((f"{Path(path).name} line {line}", f"extension for unknown "
                                 f"student {key!r}: ignored"))
                continue
            try:
                if (row.get("deadline") or "").strip():
                    extensions[key] = parse_time(row["deadline"])
                else:
                    extensions[key] = float(row["days"])
            except (PolicyError, ValueError) as exc:
                problems.append((f"{Path(path).name} line {line}", f"unreadable extension: {exc}"))
    return extensions, problems


def apply_days(extensions, deadline):
    """Extensions given in days become deadlines."""
    return {k: (deadline + timedelta(days=v) if isinstance(v, float) else v) for k, v in extensions.items()}
