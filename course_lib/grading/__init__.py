"""Grading for the course's nbgrader exercises, in two halves with one narrow channel between them.

Untrusted: ``sandboxed/`` runs inside the sandbox, next to the student's code, and only produces
evidence (the cells' outputs, what the student's functions return and modules compute for inputs chosen
here). It imports nothing else of ``course_lib``; the sandbox gets a copy of that folder alone.

The channel: ``sandboxed/channel.py``, length-prefixed JSON frames with arrays as checked raw bytes read without
pickle, bounded in size, depth and dtype.

Trusted (everything else here) decides scores:
- the checks, one module per assignment (``resblk``, ``conv_basics``, ``pooling``, ``batchnorm_dropout``,
  ``architectures``; ``square`` for the demo course) on the building blocks of ``checks``; module checks
  compare through ``modules`` (layers paired with the reference by role, seed-derived weights);
- ``replay`` (stand-ins that record a check's requests and replay the sandbox's answers), ``verdicts``
  (test cells read and scored), ``static`` (flags from the answer cells' source), ``execute`` (the
  nbgrader step that ties them together), ``records`` (what was decided, per submission);
- the class autograder around nbgrader: ``cli``, ``runner``, ``inputs``, ``sandbox`` (the handle on a
  sandbox), ``cluster`` (Dask), ``feedback`` (hidden tests kept out of feedback), ``democourse``.

In a student's own notebook the checks get the real function or class and produce the same evidence
in-process, so a visible test gives the score the class grader will. ``import course_lib.grading``
imports nothing heavy; import the module you need.
"""
