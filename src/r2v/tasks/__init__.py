"""Tasks: the record, its state machine, and the TaskStore port with its SQLite implementation."""
