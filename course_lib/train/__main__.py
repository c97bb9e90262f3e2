"""`python -m course_lib.train` and `torchrun ... -m course_lib.train`: see course_lib/train/cli.py."""

import sys

from course_lib.train.cli import main

sys.exit(main())
