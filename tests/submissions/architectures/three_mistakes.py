# expect-lost: lenet5 inception bottleneck
# Sigmoid LeNet, Inception branches concatenated in the wrong order, the paper's stride placement.
# %% answer_lenet5
class LeNet5(nn.Sequential):
    def __init__(self):
        super().__init__(
            nn.Conv2d(1, 6, 5), nn.Sigmoid(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10),
        )
# %% answer_inception
def unit(i, o, k, p=0):
    return nn.Sequential(nn.Conv2d(i, o, k, padding=p, bias=False), nn.BatchNorm2d(o, eps=0.001), nn.ReLU())


class Inception(nn.Module):
    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.a = unit(in_channels, ch1x1, 1)
        self.b = nn.Sequential(unit(in_channels, ch3x3red, 1), unit(ch3x3red, ch3x3, 3, 1))
        self.c = nn.Sequential(unit(in_channels, ch5x5red, 1), unit(ch5x5red, ch5x5, 3, 1))
        self.d = nn.Sequential(nn.MaxPool2d(3, 1, 1), unit(in_channels, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.d(x), self.c(x), self.b(x), self.a(x)], dim=1)
# %% answer_bottleneck
class Bottleneck(nn.Module):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        out = 4 * channels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, out, 1, bias=False), nn.BatchNorm2d(out),
        )
        self.short = nn.Identity() if stride == 1 and in_channels == out else nn.Sequential(
            nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        return torch.relu(self.body(x) + self.short(x))
