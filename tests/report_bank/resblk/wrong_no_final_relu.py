# expect-lost: same_function residual
# Independent, wrong: no ReLU after the sum.
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        self.left = nn.Sequential(
            nn.Conv2d(ch_in, ch_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(ch_out),
            nn.ReLU(),
            nn.Conv2d(ch_out, ch_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(ch_out),
        )
        self.right = nn.Identity()
        if stride != 1 or ch_in != ch_out:
            self.right = nn.Sequential(nn.Conv2d(ch_in, ch_out, 1, stride=stride, bias=False), nn.BatchNorm2d(ch_out))

    def forward(self, x):
        return self.left(x) + self.right(x)
