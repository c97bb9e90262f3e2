# expect-lost: max_pooling avg_pooling channels
# Defaults the stride to 1 instead of the window size.
import torch


def pool2d(X, pool_size, mode="max", padding=0, stride=None):
    k = pool_size if isinstance(pool_size, tuple) else (pool_size, pool_size)
    p = padding if isinstance(padding, tuple) else (padding, padding)
    s = stride if stride is not None else 1
    s = s if isinstance(s, tuple) else (s, s)
    if p != (0, 0):
        X = F.pad(X, (p[1], p[1], p[0], p[0]), value=float("-inf") if mode == "max" else 0.0)
    h = (X.shape[-2] - k[0]) // s[0] + 1
    w = (X.shape[-1] - k[1]) // s[1] + 1
    out = torch.zeros(*X.shape[:-2], h, w)
    for i in range(h):
        for j in range(w):
            win = X[..., i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]]
            out[..., i, j] = win.amax(dim=(-2, -1)) if mode == "max" else win.mean(dim=(-2, -1))
    return out
