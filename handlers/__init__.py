"""The features of Digilog, platform-neutral.

Handlers take neutral events (handlers.core.vocabulary) and return neutral messages;
adapters in bot/ translate. Nothing here imports slack_bolt, slack_sdk,
microsoft_agents or aiohttp: tests/test_layering.py holds that line.
"""
