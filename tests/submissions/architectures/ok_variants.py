# expect-lost: nothing
# Correct in other shapes: named Sequentials, VGG convs without biases (the text allows both), functional layers,
# default BN eps.
# %% answer_vgg_block
from collections import OrderedDict


def vgg_block(num_convs, in_channels, out_channels):
    layers = OrderedDict()
    for i in range(num_convs):
        layers[f"conv{i}"] = nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1, bias=False)
        layers[f"relu{i}"] = nn.ReLU(inplace=True)
    layers["pool"] = nn.MaxPool2d(2)
    return nn.Sequential(layers)
# %% answer_lenet5
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.f = nn.ModuleList([nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)])

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2).flatten(1)
        x = F.relu(self.f[0](x))
        return self.f[2](F.relu(self.f[1](x)))
# %% answer_inception
class Inception(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        spec = [(in_channels, ch1x1, 1), (in_channels, ch3x3red, 1), (ch3x3red, ch3x3, 3),
                (in_channels, ch5x5red, 1), (ch5x5red, ch5x5, 3), (in_channels, pool_proj, 1)]
        self.convs = nn.ModuleList([nn.Conv2d(i, o, k, padding=k // 2, bias=False) for i, o, k in spec])
        self.norms = nn.ModuleList([nn.BatchNorm2d(o) for _, o, _ in spec])

    def unit(self, i, x):
        return F.relu(self.norms[i](self.convs[i](x)))

    def forward(self, x):
        pooled = F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([self.unit(0, x), self.unit(2, self.unit(1, x)), self.unit(4, self.unit(3, x)),
                          self.unit(5, pooled)], dim=1)
# %% answer_bottleneck
class Bottleneck(nn.Module):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        out = 4 * channels
        self.layers = nn.ModuleDict({
            "reduce": nn.Conv2d(in_channels, channels, 1, bias=False), "n1": nn.BatchNorm2d(channels),
            "spatial": nn.Conv2d(channels, channels, 3, stride, 1, bias=False), "n2": nn.BatchNorm2d(channels),
            "expand": nn.Conv2d(channels, out, 1, bias=False), "n3": nn.BatchNorm2d(out),
        })
        self.projection = None
        if stride != 1 or in_channels != out:
            self.projection = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        L = self.layers
        y = F.relu(L["n1"](L["reduce"](x)))
        y = F.relu(L["n2"](L["spatial"](y)))
        y = L["n3"](L["expand"](y))
        return F.relu(y + (x if self.projection is None else self.projection(x)))
