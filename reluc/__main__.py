"""``python -m reluc``: the same program as the ``reluc`` entry point."""

from reluc.cli import run

run()
