# expect-lost: nothing
# Independent: the whole branch is one nn.Sequential with ReLU modules; the projection is optional.
from collections import OrderedDict

from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        self.branch = nn.Sequential(OrderedDict([
            ("c1", nn.Conv2d(ch_in, ch_out, 3, stride, 1)),
            ("b1", nn.BatchNorm2d(ch_out)),
            ("r1", nn.ReLU(inplace=False)),
            ("c2", nn.Conv2d(ch_out, ch_out, 3, 1, 1)),
            ("b2", nn.BatchNorm2d(ch_out)),
        ]))
        needs_projection = stride > 1 or ch_in != ch_out
        self.projection = (nn.Sequential(nn.Conv2d(ch_in, ch_out, 1, stride), nn.BatchNorm2d(ch_out))
                           if needs_projection else None)
        self.out_act = nn.ReLU()

    def forward(self, inp):
        residual = inp if self.projection is None else self.projection(inp)
        return self.out_act(self.branch(inp) + residual)
