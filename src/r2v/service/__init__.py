"""The service layer: turns requests into tasks and tasks into the wire's answers (no HTTP, no engines)."""
