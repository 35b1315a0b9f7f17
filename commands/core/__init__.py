"""How any command runs, whatever it does: declaring, parsing, dispatching, messages, time.

The core imports `storage` and nothing else of Liaison: no feature, no platform.
"""
