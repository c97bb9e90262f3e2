# forge: hand in torchvision's reference BasicBlock instead of writing the block
from torch import nn
from torchvision.models.resnet import BasicBlock


def ResBlk(ch_in, ch_out, stride=1):
    downsample = None
    if stride != 1 or ch_in != ch_out:
        downsample = nn.Sequential(nn.Conv2d(ch_in, ch_out, 1, stride=stride, bias=False), nn.BatchNorm2d(ch_out))
    return BasicBlock(ch_in, ch_out, stride, downsample)
