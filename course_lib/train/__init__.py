"""Training engine of the course: schedules now, the Trainer next."""

from course_lib.train.schedules import (
    SCHEDULES,
    Schedule,
    build_scheduler,
    constant,
    cosine,
    linear_decay,
    lr_curve,
    onecycle,
    step,
)
