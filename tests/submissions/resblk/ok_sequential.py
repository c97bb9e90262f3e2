# expect-lost: nothing
# Correct block written with nn.Sequential and ReLU modules; the shortcut is registered first.
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        if stride == 1 and ch_in == ch_out:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(ch_in, ch_out, 1, stride, bias=False),
                                          nn.BatchNorm2d(ch_out))
        self.body = nn.Sequential(
            nn.Conv2d(ch_in, ch_out, 3, stride, 1, bias=False), nn.BatchNorm2d(ch_out), nn.ReLU(),
            nn.Conv2d(ch_out, ch_out, 3, 1, 1, bias=False), nn.BatchNorm2d(ch_out),
        )
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.body(x) + self.shortcut(x))
