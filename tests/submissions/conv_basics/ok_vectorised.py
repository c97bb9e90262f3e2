# expect-lost: nothing
# Correct answers written without Python loops over positions.
# %% answer_corr2d
def corr2d(X, K):
    kh, kw = K.shape
    windows = X.unfold(0, kh, 1).unfold(1, kw, 1)  # (H', W', kh, kw)
    return (windows * K).sum(dim=(-2, -1))
# %% answer_multi_in_out
def corr2d_multi_in_out(X, K):
    return torch.stack([torch.stack([corr2d(x, k) for x, k in zip(X, kernel)]).sum(0) for kernel in K])
# %% answer_conv1x1
def conv1x1_as_matmul(X, K):
    c, h, w = X.shape
    return torch.matmul(K.flatten(1), X.flatten(1)).unflatten(1, (h, w))
