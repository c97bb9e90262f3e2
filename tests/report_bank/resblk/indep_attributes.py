# expect-lost: nothing
# Independent: named attributes, keyword arguments, an if/else for the shortcut.
import torch
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        self.conv_a = nn.Conv2d(ch_in, ch_out, kernel_size=3, stride=stride, padding=1, bias=False)
        self.norm_a = nn.BatchNorm2d(ch_out)
        self.conv_b = nn.Conv2d(ch_out, ch_out, kernel_size=3, stride=1, padding=1, bias=False)
        self.norm_b = nn.BatchNorm2d(ch_out)
        if stride == 1 and ch_in == ch_out:
            self.skip = nn.Identity()
        else:
            self.skip = nn.Sequential(
                nn.Conv2d(ch_in, ch_out, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(ch_out),
            )

    def forward(self, x):
        h = torch.relu(self.norm_a(self.conv_a(x)))
        h = self.norm_b(self.conv_b(h))
        return torch.relu(h + self.skip(x))
