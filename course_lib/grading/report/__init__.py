"""The class report after grading: `python -m course_lib.grading report ASSIGNMENT`.

``gather`` reads the gradebook, the grader's records and the notebooks into one ``ClassResults``;
``similarity`` compares answer cells; ``charts`` draws inline SVG; ``page`` writes the HTML page;
``exports`` writes spreadsheet, Canvas and Moodle CSV files; ``cli`` ties them to the command line.
"""
