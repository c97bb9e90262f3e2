# expect-lost: everything
# Hands in the course's own teaching functions.
# %% answer_corr2d
from course_lib.layers import corr2d
# %% answer_output_size
from course_lib import layers
conv_output_size = layers.conv_output_size
# %% answer_multi_in_out
from course_lib.layers import corr2d_multi_in_out
# %% answer_conv1x1
def conv1x1_as_matmul(X, K):
    import course_lib.layers
    return course_lib.layers.conv1x1_as_matmul(X, K)
