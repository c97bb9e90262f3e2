# expect-lost: everything
# Does not parse: a missing colon.
from torch import nn


class ResBlk(nn.Module)
    def __init__(self, ch_in, ch_out, stride=1):
        super().__init__()
