# expect-lost: everything
# Hands in the course's reference models.
# %% answer_vgg_block
from course_lib.models import make_vgg_features


def vgg_block(num_convs, in_channels, out_channels):
    return make_vgg_features([out_channels] * num_convs + ["M"], in_channels=in_channels)
# %% answer_lenet5
from course_lib.models import LeNet5
# %% answer_inception
from course_lib.models import Inception
# %% answer_bottleneck
import course_lib.models


class Bottleneck(nn.Module):
    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        down = None
        if stride != 1 or in_channels != 4 * channels:
            down = nn.Sequential(nn.Conv2d(in_channels, 4 * channels, 1, stride, bias=False), nn.BatchNorm2d(4 * channels))
        self.block = course_lib.models.Bottleneck(in_channels, channels, stride, down)

    def forward(self, x):
        return self.block(x)
