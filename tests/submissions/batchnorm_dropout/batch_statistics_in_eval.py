# expect-lost: batchnorm_evaluation
# Ignores `training`: evaluation also normalises with the batch's statistics.
# %% answer_batch_norm
def batch_norm(X, gamma, beta, running_mean, running_var, eps=1e-5, momentum=0.1, training=True):
    axes = (0,) if X.dim() == 2 else (0, 2, 3)
    shape = (1, -1) if X.dim() == 2 else (1, -1, 1, 1)
    mean = X.mean(dim=axes)
    var = ((X - mean.reshape(shape)) ** 2).mean(dim=axes)
    X_hat = (X - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    m = X.numel() // X.shape[1]
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var * m / max(m - 1, 1)
    return gamma.reshape(shape) * X_hat + beta.reshape(shape), new_mean, new_var
