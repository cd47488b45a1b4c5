"""Benchmarks and the data they run on (see ../shared/BENCHMARKS.md).

Not part of the service: nothing in ``core``, ``api`` or ``notifications`` imports this package at import time
(``api/cli.py`` imports it inside the ``bench`` command), and the production image does not contain it.
"""
