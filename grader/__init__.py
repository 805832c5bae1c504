"""Faultline's grading engine, a pure library: spec, workspace, sandbox, report.

It never imports the web app or a database. The app, the worker and the command line all grade
through :func:`grader.grading.grade`.
"""
