"""Analysis of network files: evaluation (``evaluate``), statistics (``stats``) and
verification (``verify``, with ``samples``, ``rounding``, ``complete`` and ``report``)."""
