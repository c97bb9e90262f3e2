# expect-lost: nothing
# Independent: small factory functions build conv+BN pairs; forward is written step by step.
import torch.nn as nn
import torch.nn.functional as fn


def conv_bn(cin, cout, k, s):
    """A k x k convolution (padding keeps the size at stride 1) followed by batch norm."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride=s, padding=k // 2, bias=False), nn.BatchNorm2d(cout))


class ResBlk(nn.Module):
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
        self.first = conv_bn(ch_in, ch_out, 3, stride)
        self.second = conv_bn(ch_out, ch_out, 3, 1)
        self.shortcut = conv_bn(ch_in, ch_out, 1, stride) if (stride, ch_in) != (1, ch_out) else nn.Sequential()

    def forward(self, x):
        y = self.first(x)
        y = fn.relu(y)
        y = self.second(y)
        y = y + self.shortcut(x)
        return fn.relu(y)
