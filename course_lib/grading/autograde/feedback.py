"""An nbgrader preprocessor that keeps hidden tests out of generated feedback (nbgrader issue #917).

Autograding restores every test cell from the gradebook, hidden tests included, so the autograded
notebook (and the feedback HTML made from it) shows their code. ``nbgrader_config.py`` adds
:class:`HideHiddenTests` to ``GenerateFeedback.preprocessors``: it cuts each hidden region from the
source and shortens the tracebacks of cells that held one to their last line, which could otherwise
quote the hidden code. The printed reports of the checks and the scores stay.
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode

from ..markers import HIDDEN_BEGIN, HIDDEN_END

PLACEHOLDER = "# Hidden tests ran here; their code is not part of the feedback."


class HideHiddenTests(Preprocessor):
    """Remove ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions and their tracebacks."""

    enabled = Bool(True, help="On by default: nbconvert skips preprocessors that are not enabled").tag(config=True)
    begin_delimiter = Unicode(HIDDEN_BEGIN, help="Marks the start of a hidden test region").tag(config=True)
    end_delimiter = Unicode(HIDDEN_END, help="Marks the end of a hidden test region").tag(config=True)

    def strip_source(self, source: str) -> tuple[str, bool]:
        """The source without its hidden regions, and whether there were any (an open region runs to the end)."""
        kept, hidden, found = [], False, False
        for line in source.split("\n"):
            if self.begin_delimiter in line:
                hidden = found = True
                kept.append(PLACEHOLDER)
            elif self.end_delimiter in line and hidden:
                hidden = False
            elif not hidden:
                kept.append(line)
        return "\n".join(kept), found

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        cell.source, found = self.strip_source(cell.source)
        if found:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
