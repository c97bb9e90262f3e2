"""Grading helpers for the course's nbgrader exercises.

The test cells of ``solutions/<assignment>/<assignment>.ipynb`` call the modules of this package:
``checks`` (shared building blocks), ``transplant`` (copy a reference's weights into a student's
model by role), one module per assignment (``resblk``, ``conv_basics``, ``pooling``,
``batchnorm_dropout``, ``architectures``) and ``feedback`` (an nbgrader preprocessor that keeps hidden
tests out of generated feedback). This file imports nothing heavy, so ``import course_lib.grading``
stays cheap; import the module you need.

The class autograder (``python -m course_lib.grading autograde ASSIGNMENT``) lives in ``cli``,
``runner``, ``inputs``, ``execute``, ``sandbox``, ``isolation``, ``cellrunner`` and ``cluster``.
"""
