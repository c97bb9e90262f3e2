# expect-lost: everything
# Subclasses the course's class without writing anything.
import course_lib.models as reference_models


class ResBlk(reference_models.ResBlk):
    pass
