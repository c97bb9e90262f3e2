# expect-lost: everything
# Hands in the course's own class under the expected name.
from course_lib.models import ResBlk
