"""hoodsync.kinds."""
