import torch

hoard = []
while True:
    hoard.append(torch.ones(64, 1024, 1024))  # 256 MB a step, until the memory limit says no


def square(x):
    return x * x
