"""The headless engine: jobs in, step events and results out.

This package never imports Qt. Modules that need torch import it themselves, so that
``jobs`` (the scheduler table among them) and ``metadata`` stay cheap to import for the GUI's start-up.
"""
