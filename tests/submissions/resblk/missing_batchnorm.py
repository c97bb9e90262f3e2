# expect-lost: parameter_count same_function residual batchnorm_modes
# Plain convolutions, no batch norm anywhere.
import torch
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(ch_in, ch_out, 3, stride, 1, bias=False)
        self.conv2 = nn.Conv2d(ch_out, ch_out, 3, 1, 1, bias=False)
        self.short = nn.Identity()
        if stride != 1 or ch_in != ch_out:
            self.short = nn.Conv2d(ch_in, ch_out, 1, stride, bias=False)

    def forward(self, x):
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + self.short(x))
