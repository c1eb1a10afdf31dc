"""hoodsync.emulator."""
