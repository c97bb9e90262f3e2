"""course_lib: the CNN course's reference models, teaching layers, data, training and grading helpers.

Chapters and exercises import from here so that the book and the autograder share one reference.
"""

__version__ = "0.1.0"
