"""The features Digilog offers. A new feature is a module of its own and one line here."""

from __future__ import annotations

from handlers import (
    bank,
    buddies,
    digest,
    export,
    failures,
    gatherings,
    guide,
    labs,
    meetings,
    nudges,
    people,
    personal_data,
    quiz,
    report,
    retention,
    schedule,
    surveys,
    tasks,
    themes,
)
from handlers.core import deliveries
from handlers.core.registry import Registry

# In this order in help and in the role matrix.
REGISTRY = Registry(
    (
        guide.FEATURE,
        people.FEATURE,
        nudges.FEATURE,
        themes.FEATURE,
        tasks.FEATURE,
        bank.FEATURE,
        meetings.FEATURE,
        surveys.FEATURE,
        schedule.FEATURE,
        quiz.FEATURE,
        buddies.FEATURE,
        labs.FEATURE,
        gatherings.FEATURE,
        report.FEATURE,
        digest.FEATURE,
        export.FEATURE,
        failures.FEATURE,
        personal_data.FEATURE,
        retention.FEATURE,
        deliveries.RELAYS,
    )
)
