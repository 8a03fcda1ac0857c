"""`make run`: serve Slack and/or Teams when configured; otherwise the console on the bundled
example."""

from __future__ import annotations

import sys

from bot import launch


def start() -> None:
    launch.pause_collector()  # as the `digilog` command starts (bot/launch.py)
    from bot.cli import main
    from bot.settings import Settings

    settings = Settings()
    if settings.slack_enabled or settings.teams_enabled:
        main(["serve"])
        return
    print(
        "No Slack or Teams credentials are configured, so Digilog starts the terminal "
        "console on the bundled example programme (see docs/slack.md and docs/microsoft-teams.md).",
        file=sys.stderr,
    )
    main(["console"])


if __name__ == "__main__":
    start()
