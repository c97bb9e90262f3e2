# expect-lost: nothing
# Correct block in a ModuleDict, registered as convolutions first and batch norms after.
import torch
from torch import nn


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        self.layers = nn.ModuleDict({
            "c2": nn.Conv2d(ch_out, ch_out, 3, padding=1),
            "c1": nn.Conv2d(ch_in, ch_out, 3, stride=stride, padding=1),
            "n2": nn.BatchNorm2d(ch_out),
            "n1": nn.BatchNorm2d(ch_out),
        })
        self.project = stride != 1 or ch_in != ch_out
        if self.project:
            self.layers["pc"] = nn.Conv2d(ch_in, ch_out, 1, stride=stride, bias=False)
            self.layers["pn"] = nn.BatchNorm2d(ch_out)

    def forward(self, x):
        L = self.layers
        h = torch.relu(L["n1"](L["c1"](x)))
        h = L["n2"](L["c2"](h))
        s = L["pn"](L["pc"](x)) if self.project else x
        return torch.relu(h + s)
