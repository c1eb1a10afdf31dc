"""hoodsync.render."""
