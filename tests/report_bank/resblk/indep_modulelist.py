# expect-lost: nothing
# Independent: convolutions and norms in ModuleLists walked by a loop; the shortcut flag is stored.
import torch
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        widths = [(ch_in, ch_out, stride), (ch_out, ch_out, 1)]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, s, 1) for a, b, s in widths)
        self.norms = nn.ModuleList(nn.BatchNorm2d(ch_out) for _ in widths)
        self.identity = stride == 1 and ch_in == ch_out
        if not self.identity:
            self.proj_conv = nn.Conv2d(ch_in, ch_out, 1, stride)
            self.proj_norm = nn.BatchNorm2d(ch_out)

    def shortcut(self, x):
        return x if self.identity else self.proj_norm(self.proj_conv(x))

    def forward(self, x):
        out = x
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            out = norm(conv(out))
            if i == 0:
                out = out.relu()
        return (out + self.shortcut(x)).relu()
