"""Call control: routing, the verb loop, placing calls, live-call control, shared services."""
