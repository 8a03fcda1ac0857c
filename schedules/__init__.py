"""Calendar, nudges and the delivery outbox.

Empty until the scheduling issue: APScheduler will be the clock, the database the
truth. Like handlers/ and storage/, nothing here may import a platform SDK or aiohttp.
"""
