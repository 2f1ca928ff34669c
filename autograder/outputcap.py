"""A cap on what one cell may print into the autograded notebook and the feedback."""

import json

from nbformat import from_dict
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

TRUNCATED = "[output cut by the grader:"


class CapOutput(NbGraderPreprocessor):
    """Cut each code cell's outputs to ``max_chars`` characters, and all of them to ``max_total_chars``.

    Runs right after the notebook has executed (autograder.containment puts it there), so that
    100 MB printed by a student stays out of the autograded notebook and the feedback: nbgrader's
    own LimitOutput counts lines, and one line can be any length. Error outputs (the tests'
    messages) are always kept, each line cut to 2000 characters.
    """

    max_chars = Integer(100_000, help="characters of output kept per cell").tag(config=True)
    max_total_chars = Integer(2_000_000, help="characters of output kept in the whole notebook").tag(config=True)

    def preprocess(self, nb, resources):
        self._left = self.max_total_chars  # 5 000 cells of 100 000 characters stay a page
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        left = getattr(self, "_left", self.max_total_chars)
        if left <= 0:  # the notebook's budget is spent: only the tests' messages are kept
            cut = [out for out in cell.outputs if out.output_type != "error"]
            cell.outputs = [out for out in cell.outputs if out.output_type == "error"]
            for out in cell.outputs:
                out.evalue, out.traceback = out.evalue[:2000], [line[:2000] for line in out.traceback]
            if cut and left == 0:
                cell.outputs.insert(0, from_dict({"output_type": "stream", "name": "stdout", "text":
                                                  f"{TRUNCATED} the notebook printed more than "
                                                  f"{self.max_total_chars} characters]\n"}))
                self._left = -1
            return cell, resources
        budget, kept = min(self.max_chars, left), []
        for out in cell.outputs:
            size = len(json.dumps(out))
            if out.output_type == "error":
                out.evalue = out.evalue[:2000]
                out.traceback = [line[:2000] for line in out.traceback]
                kept.append(out)
            elif size <= budget:
                kept.append(out)
                budget -= size
            else:
                text = out.get("text", "")[:max(budget, 0)] if out.output_type == "stream" else ""
                kept.append(from_dict({"output_type": "stream", "name": "stdout",
                                       "text": f"{text}\n{TRUNCATED} {size} characters of output]\n"}))
                budget = 0
        cell.outputs = kept
        self._left = max(left - sum(len(json.dumps(out)) for out in kept if out.output_type != "error"), 0)
        return cell, resources
