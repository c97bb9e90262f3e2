# expect-lost: nothing
# Correct block, every attribute renamed, convolutions without bias.
import torch
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        self.first = nn.Conv2d(ch_in, ch_out, 3, stride=stride, padding=1, bias=False)
        self.norm_a = nn.BatchNorm2d(ch_out)
        self.second = nn.Conv2d(ch_out, ch_out, 3, padding=1, bias=False)
        self.norm_b = nn.BatchNorm2d(ch_out)
        self.skip = None
        if stride != 1 or ch_in != ch_out:
            self.skip = nn.Sequential(nn.Conv2d(ch_in, ch_out, 1, stride=stride, bias=False),
                                      nn.BatchNorm2d(ch_out))

    def forward(self, x):
        y = torch.relu(self.norm_a(self.first(x)))
        y = self.norm_b(self.second(y))
        return torch.relu(y + (x if self.skip is None else self.skip(x)))
