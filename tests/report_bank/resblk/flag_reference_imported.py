# expect-lost: everything
# Hands in the course's own class: the grader's reuse guard gives 0.
from course_lib.models.resnet import ResBlk
