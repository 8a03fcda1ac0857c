"""The plumbing every feature stands on: the vocabulary of messages, the context of a
command, roles, texts, the feature registry, scheduled deliveries and steps, the
programme, calendar and roster files, formats and humane times. It imports no feature."""
