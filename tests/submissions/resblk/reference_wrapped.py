# expect-lost: everything
# Wraps the course's class inside a new module, imported inside __init__.
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        import importlib
        self.inner = getattr(importlib.import_module("course_lib" + ".models"), "ResBlk")(ch_in, ch_out, stride)

    def forward(self, x):
        return self.inner(x)
