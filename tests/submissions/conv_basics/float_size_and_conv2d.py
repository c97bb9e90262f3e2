# expect-lost: output_size conv1x1_matmul
# True division in the size rule; the 1x1 "matrix product" calls a convolution.
# %% answer_output_size
def conv_output_size(n, k, p=0, s=1):
    return (n + 2 * p - k) / s + 1
# %% answer_conv1x1
def conv1x1_as_matmul(X, K):
    return F.conv2d(X[None], K)[0]
