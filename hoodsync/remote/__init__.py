"""hoodsync.remote."""
