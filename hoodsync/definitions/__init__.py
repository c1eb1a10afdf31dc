"""hoodsync.definitions."""
