"""Static flags read from the answer cells' source (trusted side): what raises one, what must not."""

from __future__ import annotations

from pathlib import Path

import pytest

from course_lib.grading.autograde import static
from submissions import bank

FORGE = Path(__file__).resolve().parent / "forge"
ASSIGNMENTS = ["resblk", "conv_basics", "pooling", "batchnorm_dropout", "architectures"]


def kinds(source: str) -> set[str]:
    return {flag.kind for flag in static.flags_for([("answer", source)])}


@pytest.mark.parametrize("source", [
    "import sys\nprint('debug', file=sys.stderr)",
    "model.eval()\nout = F.relu(self.bn(x))",
    "for i in range(2):\n    setattr(self, f'conv{i}', nn.Conv2d(3, 3, 3))\n    layer = getattr(self, f'conv{i}')",
    "name = self.__class__.__name__",
    "%matplotlib inline\nimport math\nfrom torch import nn",
    "x = torch.zeros(3)\nx[0] = 1.0\nself.weight = nn.Parameter(x)",
    # IPython's names bound by the student are the student's own
    "for _i in range(3):\n    print(_i)",
    "def f(In, Out):\n    return In + Out",
    "class B:\n    def __init__(self, In, Out, stride=1):\n        self.a = (In, Out)",
    "xs = [_i * 2 for _i in range(3)]",
    "a, _ = divmod(7, 2)\nprint(_)",
    "with open('f') as _oh:\n    _oh.read()",
    "_i = 0\n_i += 1\nprint(_i)",
    "def g():\n    _ih = []\n    for _i in range(2):\n        _ih.append(_i)\n    return _ih",
    "try:\n    pass\nexcept ValueError as _:\n    print(_)",
    "f = lambda _i: _i + 1",
    "def outer():\n    _ = 3\n\n    def inner():\n        return _\n    return inner",
    "if True:\n    Out = 1\nelse:\n    Out = 2\nprint(Out)",
])
def test_ordinary_code_is_not_flagged(source: str) -> None:
    assert kinds(source) == set()


@pytest.mark.parametrize("source,kind", [
    ("from course_lib.models import ResBlk", "course-code"),
    ("m = __import__('course_' + 'lib')", "dynamic-code"),
    ("import importlib\nimportlib.import_module('x')", "dynamic-code"),
    ("exec('1')", "dynamic-code"),
    ("getattr(torch, 'all' + 'close')", "dynamic-code"),
    ("get_ipython().input_transformers_cleanup.append(f)", "ipython-machinery"),
    ("ip.showtraceback = None", "ipython-machinery"),
    ("import sys\nframe = sys._getframe(1)", "runtime-tampering"),
    ("import torch\ntorch.allclose = lambda *a: True", "runtime-tampering"),
    ("from torch import nn\nnn.Module.__call__ = f", "runtime-tampering"),
    ("().__class__.__bases__[0].__subclasses__()", "runtime-tampering"),
    ("import os\nos.system('id')", "system-access"),
    ("import sqlite3", "grader-access"),
    ("!cat /etc/passwd", "ipython-machinery"),
    ("from torchvision.models.resnet import BasicBlock", "course-code"),
    # IPython's globals read as globals, however bound-looking
    ("print(_i)", "ipython-machinery"),
    ("print(In[-1])", "ipython-machinery"),
    ("for _i in []:\n    pass\nprint(_i)", "ipython-machinery"),
    ("class R:\n    In = None\n\n    def f(self):\n        return In", "ipython-machinery"),
    ("def f():\n    global Out\n    Out = dict(Out)\n    return Out", "ipython-machinery"),
    ("if x:\n    _ = 1\nprint(_)", "ipython-machinery"),
    ("print(_3, _i2)", "ipython-machinery"),
    ("_i += 1", "ipython-machinery"),
    ("del _\nprint(_)", "ipython-machinery"),
    ("f = lambda: _", "ipython-machinery"),
    ("import __main__\n__main__.In", "ipython-machinery"),
])
def test_reaching_for_the_machinery_is_flagged(source: str, kind: str) -> None:
    flags = static.flags_for([("answer", source)])
    assert kind in {f.kind for f in flags}
    assert all(f.reason and f.cell == "answer" and f.line for f in flags)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_honest_bank_submission_is_flagged(assignment: str) -> None:
    for name in bank.names(assignment):
        submission = bank.load(assignment, name)
        flags = static.flags_for(list(submission.answers.items()))
        if submission.expect_lost == "everything":
            assert flags, f"{assignment}/{name} reuses course code and must be flagged"
        else:
            assert not flags, (name, [str(f) for f in flags])


@pytest.mark.parametrize("path", sorted(FORGE.glob("*.py")), ids=lambda p: p.stem)
def test_every_forgery_of_the_bank_is_flagged(path: Path) -> None:
    assert static.flags_for([("answer_resblk", path.read_text())])


def test_names_used_by_a_definition_are_read_from_source() -> None:
    cells = [("a", "def helper(X):\n    return F.conv2d(X, K)\n"), ("b", "def f(X):\n    return helper(X) @ W\n")]
    assert {"helper", "W", "X"} <= static.names_used("f", cells)
    assert "conv2d" in static.names_used("f", cells)  # through the helper it calls


def test_the_sandboxed_package_imports_only_itself_the_stdlib_and_its_listed_packages() -> None:
    """Checked on the source, so it holds without unshare: the sandbox runs from a copy of this folder alone."""
    import ast
    import sys

    from course_lib.grading import sandboxed

    folder = Path(sandboxed.__file__).parent
    allowed = set(sys.stdlib_module_names) | set(sandboxed.THIRD_PARTY)
    found: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level in (0, 1), f"{path.name}:{node.lineno} imports from outside the package"
                names = [node.module or ""] if node.level == 0 else []
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(f"{path.name}:{node.lineno}")
    outside = {name: places for name, places in found.items() if name not in allowed and name != "__future__"}
    assert not outside, f"sandboxed/ imports beyond the stdlib and sandboxed.THIRD_PARTY: {outside}"
    assert "course_lib" not in found
    assert set(sandboxed.THIRD_PARTY) <= set(found), "THIRD_PARTY lists a package nothing imports"
