"""Microsoft Teams: the app package, and what else Digilog needs to run in Teams."""
