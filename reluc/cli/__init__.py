"""The command line: a thin click layer over the library.

Each command is a module of this package (``reluc/cli/<command>.py``): its options, one
call into the library module that does the work, and the printing of the result. Adding
a command is adding such a module and naming it in the import at the end of this file.
Errors from the library (:class:`reluc.errors.RelucError`) become ``Error: ...`` on one
line and exit code 2, here and nowhere else. Results go to stdout, messages to stderr.
"""

from __future__ import annotations

import os

import click

from reluc import __version__
from reluc.errors import RelucError


class UserError(click.ClickException):
    """A one-line error with exit code 2 (bad spec, bad input, unreadable file)."""

    exit_code = 2


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RelucError as e:
            raise UserError(str(e)) from None
        except OSError as e:  # disk full, permission denied, missing directory, ...
            where = f" '{e.filename}'" if e.filename else ""
            raise UserError(f"cannot access{where}: {e.strerror or e}") from None
        except MemoryError as e:  # the job, not reluc, is too big for this process
            from reluc.budget import memory_detail

            raise UserError(f"out of memory{memory_detail(e)}") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:  # a bug: say so in one line unless debugging
            if isinstance(e, RuntimeError) and "can't start new thread" in str(e):
                from reluc.budget import memory_detail  # no memory for a thread's stack

                raise UserError(f"out of memory{memory_detail(MemoryError(e))}") from None
            if os.environ.get("RELUC_DEBUG"):
                raise
            err = click.ClickException(
                f"internal error ({type(e).__name__}: {e}); set RELUC_DEBUG=1 for a traceback "
                "and please report it"
            )
            err.exit_code = 3
            raise err from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reluc")
def main():
    """reluc: compile algorithms into exact ReLU networks.

    \b
    Examples:
      reluc list                              constructors and their parameters
      reluc build sort --n 64 -o sort64.onnx  build a network (or "sort n=64", or a .spec file)
      echo "3 1 2" | reluc eval sort3.onnx    evaluate rows of inputs
      reluc stats sort64.onnx --json          depth, widths, neurons, parameters
      reluc verify --complete sort64.onnx     is the file what its spec promises?
    """
    from reluc.budget import keep_memory

    keep_memory()


# -- shared options -----------------------------------------------------------------------

NETWORK = click.Path(dir_okay=True, allow_dash=True)  # a file, - (stdin) or a pipe
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
quiet_option = click.option("-q", "--quiet", is_flag=True,
                            help="Print nothing on success, no progress.")


def slice_options(verb: str):
    """``--line``, ``--plane`` and ``--box``: where in the input space ``reluc regions``
    counts and ``reluc plot`` draws (``verb``: Count, Draw)."""
    def deco(fn):
        fn = click.option(
            "--box", metavar="LO:HI[,LO:HI]",
            help="The domain: one interval for every axis (-1:1) or one per axis (-1:1,0:2); "
                 "axes are the inputs, or t for --line, (u, v) for --plane. Default: the "
                 "file's domain (the whole line for one input).")(fn)
        fn = click.option(
            "--plane", nargs=3, metavar="P0 P1 P2",
            help=f"{verb} on the plane P0 + u (P1 - P0) + v (P2 - P0), (u, v) in [0,1]^2 "
                 "(or --box).")(fn)
        return click.option(
            "--line", nargs=2, metavar="A B",
            help=f"{verb} on the segment from A to B (points like 1,0,-1/2) of the input "
                 "space.")(fn)
    return deco


def say(message: str) -> None:
    """A message for the user, on stderr."""
    click.echo(message, err=True)


def run(args=None) -> None:
    """The program (the ``reluc`` entry point and ``python -m reluc``): :func:`main` with
    this process's address space capped at what the machine has available, so that a job
    too big for the machine fails as "out of memory", exit 2, instead of being killed. A
    program calling :func:`main` itself keeps its own limits."""
    from reluc.budget import guard_memory

    guard_memory()
    main(args, prog_name="reluc")


# the commands (each registers itself on main)
from reluc.cli import (build, catalog, convert, evaluate, fit, plot, regions,  # noqa: E402, F401
                       stats, verify, vnnlib)
