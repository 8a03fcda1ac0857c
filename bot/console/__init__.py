"""The terminal console: a chat with Digilog against the real handlers and database."""
