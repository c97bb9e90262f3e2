"""The class grader around nbgrader (instructor only): nbgrader's own autograde per submission, with the
code run in sandboxes and the test cells decided here.

Walk a submission through it from ``runner.autograde``: ``course`` (the nbgrader course's facts: its
configuration, gradebook, release and source notebooks, also read by ``report/``), ``inputs`` (the hand-in
checked), ``canary`` (the instructor's solution graded first), ``runner.ClassGrader`` (nbgrader's
``Autograde`` per submission), ``execute`` (the preprocessor in place of nbgrader's ``Execute``: one
``SubmissionGrading`` per hand-in), ``sandbox`` (the handle on a warm sandbox; ``cluster`` and ``certs`` for
Dask over TLS), ``verdicts`` (test cells read, planned and scored from evidence), ``plaincells`` (ordinary
test cells over stand-ins), ``static`` (flags from the answers' source), ``course_checks`` (a course's own
check modules), ``records`` (what was decided, per submission), ``sanitize`` and ``feedback`` (nbgrader
preprocessors: outputs made safe, hidden tests kept out of feedback).
"""
