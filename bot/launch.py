"""The `digilog` command (bot.cli), started with the garbage collector paused.

Starting creates a few hundred thousand objects that live as long as the process: modules,
classes, SQLAlchemy's mappings, pydantic's schemas. The collector's passes over them while
they are made cost `digilog serve` about a sixth of its start (bench/startup.py), and
find almost nothing to collect. A command says when it has started (`started`): serve
once it listens, worker once it sends, any other as it begins.
"""

from __future__ import annotations

import gc


def main() -> None:
    pause_collector()
    from bot.cli import main as command_line

    command_line()


def pause_collector() -> None:
    gc.disable()


def started() -> None:
    """What the process has made so far stays for its life: it leaves the collector's
    passes, which run again from here on. (The few thousand objects that became garbage
    while starting stay with it: a few hundred kB, once.) Nothing changes where the
    collector was not paused (bot.cli's commands called from tests or `python -m`)."""
    if gc.isenabled():
        return
    gc.freeze()
    gc.enable()


if __name__ == "__main__":
    main()
