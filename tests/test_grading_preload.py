"""What each sandbox template imports before it forks: the core, plus what the instructor's cells import."""

from __future__ import annotations

from course_lib.grading.autograde.sandbox import CORE_PRELOAD, preload_for


def test_the_instructors_imports_are_added_to_the_core_once_each() -> None:
    cells = ["import torch\nimport matplotlib.pyplot as plt", "from torchvision import models\nimport numpy as np",
             "%matplotlib inline\nfrom torch.nn import functional as F\nimport matplotlib.pyplot"]
    assert preload_for(cells) == (*CORE_PRELOAD, "matplotlib.pyplot", "torchvision")


def test_the_course_package_missing_modules_and_broken_cells_are_left_out() -> None:
    cells = ["from course_lib.grading import resblk as grade", "import no_such_module_here",
             "from . import sibling", "def broken(:\n    pass", "%matplotlib inline"]
    assert preload_for(cells) == CORE_PRELOAD


def test_the_core_is_what_every_job_needs_and_no_more() -> None:
    assert "torch" in CORE_PRELOAD and "IPython" in CORE_PRELOAD
    assert "torchvision" not in CORE_PRELOAD and "matplotlib.pyplot" not in CORE_PRELOAD
