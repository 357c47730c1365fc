"""``python -m reluc``: the same CLI as the ``reluc`` entry point."""

from reluc.cli import main

main(prog_name="reluc")
