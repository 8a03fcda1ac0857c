"""`make run`: start what is configured; with no chat platform configured, the console."""

from __future__ import annotations

import sys

from bot.cli import main


def start() -> None:
    print(
        "No Slack or Teams credentials are configured, so Digilog starts the terminal "
        "console on the bundled example programme (see README: Connecting Slack).",
        file=sys.stderr,
    )
    main(["console"])


if __name__ == "__main__":
    start()
