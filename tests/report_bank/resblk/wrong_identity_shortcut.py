# expect-lost: shapes same_function residual batchnorm_modes gradients
# Independent, wrong: the source notes' fault, identity shortcut whenever the channels agree.
import torch
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        self.c1 = nn.Conv2d(ch_in, ch_out, 3, stride, 1)
        self.b1 = nn.BatchNorm2d(ch_out)
        self.c2 = nn.Conv2d(ch_out, ch_out, 3, 1, 1)
        self.b2 = nn.BatchNorm2d(ch_out)
        self.extra = nn.Sequential()
        if ch_in != ch_out:
            self.extra = nn.Sequential(nn.Conv2d(ch_in, ch_out, 1, stride), nn.BatchNorm2d(ch_out))

    def forward(self, x):
        out = torch.relu(self.b1(self.c1(x)))
        out = self.b2(self.c2(out))
        return torch.relu(out + self.extra(x))
