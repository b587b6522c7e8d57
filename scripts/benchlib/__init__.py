"""Helpers for ``scripts/bench.py``: CPU accounting, statistics, load clients, harnesses.

Run from ``scripts/`` on ``sys.path`` (``python scripts/bench.py`` puts it there). Child
processes are started with ``python -m benchlib.<module>`` and the same ``PYTHONPATH``.
"""
