"""nbgrader settings for the course; the repository root is the nbgrader course directory.

Run nbgrader from the root with the course environment first on PATH (nbgrader calls `alembic` from
PATH when it creates the gradebook):

    export PATH=$PWD/.venv/bin:$PATH
    nbgrader generate_assignment resblk --force
    nbgrader autograde resblk
    nbgrader generate_feedback resblk
    nbgrader export
"""

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if importlib.util.find_spec("course_lib") is None:  # not installed: use the copy next to this file
    sys.path.insert(0, HERE)

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from course_lib.grading.autograde.feedback import HideHiddenTests  # noqa: E402
from course_lib.grading.autograde.sanitize import SanitizeOutputs  # noqa: E402

c = get_config()  # noqa: F821 -- provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "cnn-course"
# Instructor notebooks (solutions, visible and hidden tests) and the student release, both committed.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# Gradebook: SQLite next to this file by default. For many graders at once use PostgreSQL, e.g.
#   c.CourseDirectory.db_url = "postgresql+psycopg2://grader:secret@localhost:5432/cnn_course"
# (psycopg2-binary is in requirements.txt).
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")

# Every cell of a submission gets this many seconds; a cell that runs longer is stopped and scores 0,
# and grading goes on with the next cell.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True

# Hidden tests: generate_assignment removes them from the release; autograde restores them to grade;
# feedback would show them (nbgrader issue #917). HideHiddenTests cuts their code and shortens the
# tracebacks of their cells in the feedback HTML; scores and the checks' printed reports stay.
# SanitizeOutputs (bleach) removes active content a submission's outputs or cells could carry (scripts,
# event handlers, javascript: links, JavaScript, widget and SVG outputs) before the page is written; the
# course grader already cleans outputs when they enter the autograded notebook.
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, SanitizeOutputs, CSSHTMLHeaderPreprocessor]

# Students write their code where the release says so.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# The class grader (`python -m course_lib.grading autograde`) scores test cells of the form
# `grade.<check>(<name>, points=N)`, where `grade` is a check module of course_lib.grading or one of the
# course's own: every NAME.py in these folders (relative to this file) can be used as `import NAME as grade`.
# Put one beside its notebook in solutions/<assignment>/ and it is released with it (book/instructors.md,
# "Adding your own exercise"). nbgrader itself ignores this setting.
c.CourseGrader.check_folders = []
