# expect-lost: batchnorm_running_statistics dropout
# Running variance from the biased batch variance; dropout forgets the 1/(1-p) scaling.
# %% answer_batch_norm
def batch_norm(X, gamma, beta, running_mean, running_var, eps=1e-5, momentum=0.1, training=True):
    axes = (0,) if X.dim() == 2 else (0, 2, 3)
    shape = (1, -1) if X.dim() == 2 else (1, -1, 1, 1)
    if not training:
        X_hat = (X - running_mean.reshape(shape)) / torch.sqrt(running_var.reshape(shape) + eps)
        return gamma.reshape(shape) * X_hat + beta.reshape(shape), running_mean, running_var
    mean = X.mean(dim=axes)
    var = ((X - mean.reshape(shape)) ** 2).mean(dim=axes)
    X_hat = (X - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var
    return gamma.reshape(shape) * X_hat + beta.reshape(shape), new_mean, new_var
# %% answer_dropout
def dropout(X, p, training=True):
    if not training:
        return X
    return X * (torch.rand(X.shape) >= p).to(X.dtype)
