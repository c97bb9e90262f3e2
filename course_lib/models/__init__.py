"""Reference models of the course: torchvision-exact classics and the course's own small nets.

The torchvision-exact models (AlexNet, VGG, GoogLeNet, ResNet-18/34/50) use torchvision's
parameter names, so ``model.load_state_dict(torchvision_model.state_dict())`` works and both
give the same logits. Chapters, exercises and the autograder all import models from here.
"""

from .alexnet import AlexNet, alexnet
from .googlenet import GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux, googlenet
from .lenet import ConvNet, LeNet5
from .nin import NiN, nin_block
from .resnet import (
    BasicBlock,
    Bottleneck,
    FourBlockResNet,
    ResBlk,
    ResNet,
    conv1x1,
    conv3x3,
    resnet18,
    resnet18_cifar,
    resnet34,
    resnet50,
)
from .vgg import (
    VGG,
    VGG_CONFIGS,
    make_vgg_features,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)

__all__ = [
    "AlexNet", "alexnet",
    "VGG", "VGG_CONFIGS", "make_vgg_features",
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
    "GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "googlenet",
    "ResNet", "BasicBlock", "Bottleneck", "conv3x3", "conv1x1", "resnet18", "resnet34", "resnet50",
    "LeNet5", "ConvNet", "NiN", "nin_block",
    "ResBlk", "resnet18_cifar", "FourBlockResNet",
]
