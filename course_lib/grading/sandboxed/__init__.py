"""The untrusted side of grading: code that runs inside the sandbox, next to the student's code.

Nothing here decides a score. The template (``server``) forks a child per submission; the child runs the
notebook's cells (``cellrunner``) and then answers the trusted side's evidence requests (``evidence``):
raw outputs of the student's functions and modules for inputs the trusted side chose. Everything crosses
back through ``channel``: length-prefixed JSON frames, tensors as raw bytes of plain dtypes, read without pickle.

This package imports nothing from ``course_lib`` outside itself: the sandbox gets a copy of this folder
alone, so neither the reference models nor the checks are importable there.
"""

# The only packages outside the standard library that this package may import (tests/test_grading_static.py
# checks every import statement against this list): the student's environment provides them anyway, and
# pyseccomp loads libseccomp for the syscall filter.
THIRD_PARTY = ("numpy", "torch", "IPython", "traitlets", "pyseccomp")
