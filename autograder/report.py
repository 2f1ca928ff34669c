"""``OUT/report.html`` and ``OUT/items.csv``: the class at a glance, for the instructor.

One HTML file that opens offline: the figures are PNGs drawn by matplotlib and embedded as
base64, the style is inline, nothing is fetched. items.csv holds the same numbers, one row per
test, catalogued mistake and written answer.
"""

import base64
import csv
import html
import io
from pathlib import Path

from .itemanalysis import seconds


def _figure(draw, width=6.4, height=3.2):
    """A matplotlib figure drawn by ``draw(ax)`` as an <img> with a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    try:
        draw(ax)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img alt='' src='data:image/png;base64,{data}'>"


def _pct(x):
    return f"{100 * x:.0f}%"


LOW_DISCRIMINATION = 0.2


def _discrimination(value):
    """The table cell: a dash without variance; marked when below LOW_DISCRIMINATION."""
    if value is None:
        return "—"
    if value < LOW_DISCRIMINATION:
        return f"<strong class='low' title='read this test and its message again'>{value:.2f} (low)</strong>"
    return f"{value:.2f}"


def _table(header, rows, cls=""):
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<div class='scroll'><table class='{cls}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def write_items(path, stats, mistakes, written, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["kind", "id", "max_points", "mean", "full", "partial", "zero", "discrimination",
                    "students", "tests", "message"])
        for s in stats:
            w.writerow(["test", s.grade_id, f"{s.max_points:g}", f"{s.mean:.3f}", f"{s.full:.3f}",
                        f"{s.partial:.3f}", f"{s.zero:.3f}",
                        "" if s.discrimination is None else f"{s.discrimination:.3f}", "", "", ""])
        for m in mistakes.values():
            w.writerow(["mistake", m.description, "", "", "", "", "", "", len(m.students),
                        " ".join(sorted(m.tests)), m.message])
        for gid, points in written.items():
            got = [r.written[gid] for r in rows if r.graded and r.written.get(gid) is not None]
            w.writerow(["written", gid, f"{points:g}", f"{sum(got) / len(got):.3f}" if got else "",
                        "", "", "", "", len(got), "", "graded by hand"])


def write(out_dir, assignment, results, rows, tests, written, stats, mistakes, problems, overrides,
          pairs, matches, options):
    """Write report.html and items.csv into ``out_dir``."""
    out_dir = Path(out_dir)
    write_items(out_dir / "items.csv", stats, mistakes, written, rows)
    submitted = [r for r in rows if r.submitted]
    graded = [r for r in results if not r.reason]
    maximum = max((r.raw_max for r in rows), default=0.0) or 1.0
    finals = sorted(100 * r.final / maximum for r in submitted)
    n = len(finals)
    parts = [f"<h1>{assignment}: grading report</h1>"]
    if n:
        median = (finals[(n - 1) // 2] + finals[n // 2]) / 2
        parts.append(f"<p>{len(results)} submissions, {len(graded)} graded by nbgrader, "
                     f"{len(results) - len(graded)} could not be graded"
                     f"{f', {len(rows) - len(submitted)} roster students without a submission' if len(rows) > len(submitted) else ''}. "
                     f"Final scores out of {maximum:g}: mean {sum(finals) / n:.1f}%, median {median:.1f}%.</p>")

        def hist(ax):
            ax.hist(finals, bins=[10 * k for k in range(11)], color="#4878a8", edgecolor="white")
            ax.set_xlabel("final score (% of the maximum)")
            ax.set_ylabel("students")
            ax.set_xlim(0, 100)

        parts.append("<h2>Scores</h2>" + _figure(hist))

    # tests
    parts.append("<h2>Tests</h2><p>Over the submissions nbgrader graded. <em>Discrimination</em> is "
                 "the point-biserial correlation of the test's points with the total of the other "
                 "tests: above 0.3 the test separates strong from weak answers; below "
                 f"{LOW_DISCRIMINATION:g} (marked low), read the test and its message again; — when "
                 "every student scored the same.</p>")
    parts.append(_table(["test", "points", "mean", "full", "partial", "zero", "discrimination"],
                        [[f"<code>{html.escape(s.grade_id)}</code>", f"{s.max_points:g}",
                          f"{s.mean:.2f}", _pct(s.full), _pct(s.partial), _pct(s.zero),
                          _discrimination(s.discrimination)] for s in stats], "num"))
    if stats and graded:
        def shares(ax):
            ids = [s.grade_id.removeprefix("test_") for s in stats]
            full = [s.full for s in stats]
            partial = [s.partial for s in stats]
            zero = [s.zero for s in stats]
            ax.barh(ids, full, color="#5a9e5a", label="full")
            ax.barh(ids, partial, left=full, color="#e0b040", label="partial")
            ax.barh(ids, zero, left=[a + b for a, b in zip(full, partial)], color="#c05050", label="zero")
            ax.invert_yaxis()
            ax.set_xlabel("share of graded submissions")
            ax.legend(ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize="small",
                      frameon=False)
            ax.tick_params(axis="y", labelsize=7)

        parts.append(_figure(shares, height=max(2.5, 0.22 * len(stats) + 1)))

    # mistakes
    parts.append("<h2>Catalogued mistakes</h2><p>Students whose answers the checks recognised as a "
                 "usual mistake, with the message they saw (a student counts once per mistake). "
                 "These are the points to re-teach.</p>")
    parts.append(_table(["mistake", "students", "tests", "message the students saw"],
                        [[html.escape(m.description), len(m.students),
                          ", ".join(f"<code>{html.escape(t)}</code>" for t in sorted(m.tests)),
                          html.escape(m.message)] for m in mistakes.values()])
                 if mistakes else "<p>None recognised.</p>")

    # written answers
    if written:
        parts.append("<h2>Written answers (graded by hand)</h2>")
        wrows = []
        gradable = [r for r in rows if r.graded]
        for gid, points in written.items():
            got = [r.written[gid] for r in gradable if r.written.get(gid) is not None]
            wrows.append([f"<code>{html.escape(gid)}</code>", f"{points:g}", len(got),
                          len(gradable) - len(got), f"{sum(got) / len(got):.2f}" if got else "—"])
        parts.append(_table(["question", "points", "graded", "waiting", "mean"], wrows, "num"))
        parts.append("<p>Over the notebooks nbgrader graded (one that could not be graded scores 0 "
                     "on its written answers too).</p>")
        parts.append("<p>Grade them in nbgrader's formgrader (the course directory "
                     f"<code>{html.escape(str(out_dir / 'course'))}</code>) or in a CSV passed as "
                     "<code>--manual</code>; then run <code>grade</code> again (nothing is "
                     "regraded).</p>")

    # late
    late = [r for r in submitted if r.late_days]
    if options.deadline:
        parts.append(f"<h2>Late submissions</h2><p>Deadline {html.escape(options.deadline)}, "
                     f"{options.late_per_day:g}% of the maximum per day or part of a day, at most "
                     f"{options.late_cap:g}%.</p>")
        parts.append(_table(["student", "days", "penalty", "why"],
                            [[html.escape(r.student), r.late_days, f"{r.penalty:g}",
                              html.escape(r.late_note)] for r in late]) if late else "<p>None late.</p>")

    # overrides
    parts.append("<h2>Overrides</h2>")
    parts.append(_table(["student", "test", "was", "now", "by", "reason", "from"],
                        [[html.escape(o.student), f"<code>{html.escape(o.test)}</code>",
                          "" if o.before is None else f"{o.before:g}", f"{o.points:g}",
                          html.escape(o.by), html.escape(o.reason), html.escape(o.source)]
                         for o in overrides]) if overrides else
                 "<p>None. (Overrides come from <code>--overrides FILE</code>; they change the "
                 "exports, never the grading journal.)</p>")

    # not graded, problems
    failed = [r for r in results if r.reason]
    missing = [r for r in rows if not r.submitted]
    parts.append("<h2>Not graded</h2>")
    parts.append(_table(["student", "reason"], [[html.escape(r.student), html.escape(r.reason)]
                                                 for r in failed] +
                        [[html.escape(r.student), "no submission (in the roster)"] for r in missing])
                 if failed or missing else "<p>Every submission was graded.</p>")
    if problems:
        parts.append("<h2>Problems found in the download and the instructor's files</h2>")
        parts.append(_table(["where", "what"], [[html.escape(str(w)), html.escape(str(x))]
                                                for w, x in problems]))

    # time
    t = seconds(results)
    parts.append("<h2>Time</h2>")
    if t:
        slow = sorted(results, key=lambda r: -getattr(r, "seconds", 0))[:5]
        parts.append(f"<p>Seconds per submission (kernel start to feedback): mean {t[0]:.1f}, "
                     f"median {t[1]:.1f}, longest {t[2]:.1f}. Slowest: "
                     + ", ".join(f"{html.escape(r.student)} {r.seconds:.1f} s" for r in slow) + ".</p>")
    else:
        parts.append("<p>Not timed (graded by an older version).</p>")

    # similarity
    parts.append(f"<h2>Similarity</h2><p>{len(pairs)} pair(s) of submissions and {len(matches)} "
                 f"answer(s) close to the reference code are listed in "
                 f"<a href='similarity.html'>similarity.html</a>, for a person to read; it is not a "
                 f"verdict.</p>")
    page = (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{assignment}: grading report</title><style>{STYLE}</style></head>"
            f"<body>\n" + "\n".join(parts) + "\n</body></html>\n")
    (out_dir / "report.html").write_text(page, encoding="utf-8")


STYLE = """body{font-family:system-ui,sans-serif;margin:1em auto;max-width:60em;padding:0 1em;line-height:1.4}
table{border-collapse:collapse;margin:.5em 0}th,td{border-bottom:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
table.num td+td{text-align:right}.scroll{overflow-x:auto}img{max-width:100%;height:auto}
code{font-size:.9em}.low{color:#b00}h2{margin-top:1.5em;border-bottom:1px solid #ccc}"""
