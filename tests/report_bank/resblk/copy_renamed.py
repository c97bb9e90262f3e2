# expect-lost: nothing
# copy-of: indep_attributes (every name renamed)
import torch
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)
        self.n1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, kernel_size=3, stride=1, padding=1, bias=False)
        self.n2 = nn.BatchNorm2d(cout)
        if stride == 1 and cin == cout:
            self.bypass = nn.Identity()
        else:
            self.bypass = nn.Sequential(
                nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(cout),
            )

    def forward(self, inp):
        t = torch.relu(self.n1(self.c1(inp)))
        t = self.n2(self.c2(t))
        return torch.relu(t + self.bypass(inp))
