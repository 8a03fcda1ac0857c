"""The `digilog` command (bot.cli), started with the garbage collector paused.

Starting creates a few hundred thousand objects that live as long as the process: modules,
classes, SQLAlchemy's mappings, pydantic's schemas. The collector's passes over them while
they are made cost `digilog serve` about a sixth of its start (bench/startup.py), and
find almost nothing to collect. A command says when it has started (`started`): serve
once it listens, worker once it sends, any other as it begins.

From then on the youngest generation is collected every YOUNG_COLLECTION allocations
rather than Python's 700. In the quiz burst bench (bench/slack_quiz_burst.py, about
2,000 clicks) 700 made 323 collections of about 300 µs each, 3 % of the event loop's
time (measured with gc.callbacks); 10,000 made 8, 14 ms in all. What waits to be
collected is a few thousand objects more.
"""

from __future__ import annotations

import gc

YOUNG_COLLECTION = 10_000


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
    gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])
    gc.enable()


if __name__ == "__main__":
    main()
