"""The MARAC's numbers: the SafeLives quarterly data return, computed from held meetings.

Aggregates per meeting date only. Nothing in this package reads or shows case content: it
counts the cases each held meeting discussed, and never lists them.
"""
