"""A local emulator of the Ocamba Hood and Falconyte APIs, and the embedded ``sandbox`` account.

- :mod:`.app` — ``EmulatorApp`` (WSGI) and ``EmulatorConfig`` (limits and faults)
- :mod:`.store` — ``Store``, the SQLite state (accounts, campaigns, push tasks, email campaigns)
- :mod:`.hood`, :mod:`.push_tasks`, :mod:`.falconyte` — the documented routes and rules
- :mod:`.rendering` — campaigns as answers show them, list pages straight from stored JSON text
- :mod:`.limits`, :mod:`.faults` — rate limits (fixed windows at any phase, sliding log, token
  bucket, a background client), concurrency gate, seeded faults and jitter
- :mod:`.server` — ``EmulatorServer`` and ``run`` (threaded loopback server)
- :mod:`.sandbox` — ``open_sandbox``: the app in-process behind httpx transports
"""
