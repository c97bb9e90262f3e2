# expect-lost: nothing
# copy-of: indep_helpers (renamed, methods and definitions reordered, reformatted, other import style)
from torch import nn
from torch.nn import functional


class ResBlk(nn.Module):

    def forward(self, inp):
        out = functional.relu(self.a(inp))
        out = self.b(out)
        out = out + self.skip(inp)
        return functional.relu(out)

    def __init__(self, n_in, n_out, stride=1):
        super().__init__()
        self.a = make(n_in, n_out, 3, stride)
        self.b = make(n_out, n_out, 3, 1)
        self.skip = (make(n_in, n_out, 1, stride)
                     if (stride, n_in) != (1, n_out)
                     else nn.Sequential())


def make(i, o, size, step):
    return nn.Sequential(nn.Conv2d(i, o, size, stride=step, padding=size // 2, bias=False),
                         nn.BatchNorm2d(o))
