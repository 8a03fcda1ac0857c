"""Scheduled deliveries printed in the console, stamped with the (perhaps rehearsed) time."""

from __future__ import annotations

from datetime import datetime

from bot.console.shell import Console
from handlers.core.formats import when_text
from handlers.core.vocabulary import Message, Outgoing, ToConversation, ToPerson
from schedules.clock import Clock
from schedules.courier import Refused, Sent


class ConsoleCourier:
    def __init__(self, console: Console, clock: Clock) -> None:
        self.console, self.clock = console, clock
        self._sent: dict[str, Sent] = {}  # a terminal keeps no history to look in

    async def send(self, key: str, outgoing: Outgoing) -> Sent:
        match outgoing.to:
            case ToConversation(conversation=conversation):
                if conversation.thread_id == "":
                    # A thread whose first message's id was lost, as the other couriers say.
                    raise Refused("the thread's first message id is unknown", permanent=True)
                where = conversation.conversation_id
            case ToPerson(user_id=user_id):
                where = user_id
            case _:
                raise Refused("a scheduled delivery goes to a channel or a person", permanent=True)
        if not isinstance(outgoing.message, Message):
            # Refused before it is shown: the console would save a file, or take the
            # reader's next lines as a form's answers, and only then say no.
            raise Refused("only messages are scheduled, not forms or files", permanent=True)
        when = when_text(self.clock.now(), None, self.console.zone, self.console.t.language)
        message_id = self.console.show(outgoing, when=f"[{when}]")
        assert message_id is not None  # a message always gets an id
        self._sent[key] = Sent(where, message_id)
        return self._sent[key]

    async def find(self, key: str, outgoing: Outgoing, since: datetime) -> Sent | None:
        return self._sent.get(key)
