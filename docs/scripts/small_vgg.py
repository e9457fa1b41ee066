"""A small user-written network for `isaacsim train FILE.py:FACTORY` (docs/training.md): conv-BN-ReLU6,
a residual add of a clamped conv, a max pool, Hardtanh, global average pool and a linear head."""

import torch
from torch import nn
from torch.nn import functional as F


class SmallVGG(nn.Module):
    def __init__(self, classes: int = 10):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(16)
        self.c2 = nn.Conv2d(16, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.c3 = nn.Conv2d(16, 32, 3, padding=1)
        self.act = nn.Hardtanh(0.0, 4.0)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(32, classes))

    def forward(self, x):
        a = F.relu6(self.b1(self.c1(x)))
        a = F.relu(a + torch.clamp(self.c2(a), 0, 6))
        return self.head(self.act(self.c3(self.pool(a))))


def small_vgg():
    """The factory `isaacsim train docs/scripts/small_vgg.py:small_vgg` calls."""
    return SmallVGG()
