# expect-lost: nothing
# Correct block whose own names happen to be IPython's: channels In/Out, loop variables _i and _, a with-as _oh.
import contextlib

import torch
from torch import nn


def stack(In, Out, stride):
    layers = []
    for _i, (c_in, s) in enumerate([(In, stride), (Out, 1)]):
        layers += [nn.Conv2d(c_in, Out, 3, stride=s, padding=1, bias=False), nn.BatchNorm2d(Out)]
        if _i == 0:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        In, Out = ch_in, ch_out
        self.body = stack(In, Out, stride)
        self.extra = nn.Identity()
        if stride != 1 or In != Out:
            self.extra = nn.Sequential(*[m for _ in range(1) for m in (nn.Conv2d(In, Out, 1, stride=stride, bias=False),
                                                                        nn.BatchNorm2d(Out))])

    def forward(self, x):
        with contextlib.nullcontext(x) as _oh:
            _ = self.body(_oh)
            return torch.relu(_ + self.extra(_oh))


_ih = [ResBlk(3, 3)(torch.zeros(1, 3, 4, 4)).shape for _ in range(2)]
print(_ih)
