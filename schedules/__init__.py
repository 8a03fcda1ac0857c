"""The programme's clock: calendar steps become delivery rows, and senders send them once.

APScheduler is only the timer; the database is the truth. Like handlers/ and storage/,
nothing here may import a platform SDK or aiohttp.
"""
