"""Digilog in Swedish, as a Swedish facilitator or participant meets it: flags, hints and
whole exchanges."""

from __future__ import annotations

from handlers.context import SAME_IN_SWEDISH, SWEDISH_FLAGS, Args
from handlers.features import REGISTRY


def test_every_flag_and_option_has_a_swedish_name() -> None:
    english = {
        name for c in REGISTRY.commands for name in (*c.flags, *c.options) if name
    } - SAME_IN_SWEDISH
    named = {e for names in SWEDISH_FLAGS.values() for e in names}
    assert english - named == set()
    assert named - english == set()  # no Swedish name for a flag nobody declares


def test_swedish_flags_are_read_as_the_english_ones() -> None:
    args = Args.parse(
        "ledarskap --tema 2 --typ plan --mina --i grupp-2",
        flags=("mine",),
        options=("theme", "kind", "in"),
    )
    assert (args.rest, args.flags) == ("ledarskap", {"mine"})
    assert args.options == {"theme": "2", "kind": "plan", "in": "grupp-2"}
    # One Swedish word, two English ones: the command's own flag is meant.
    assert Args.parse("--processledare", flags=("facilitators",)).flags == {"facilitators"}
    assert Args.parse("anna umea --processledare", flags=("facilitator",)).flags == {"facilitator"}
    assert Args.parse("--ändå 3", flags=("force",)) == Args("3", {"force"}, {})
