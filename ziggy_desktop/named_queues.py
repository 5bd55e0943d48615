"""Named queues (Ziggy's Queues): per-second rate limits and pauses shared by every run on a queue."""
