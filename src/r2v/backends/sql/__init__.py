"""The stores written once in SQL for every database r2v runs on (SQLite, PostgreSQL); each database package adds
its connection and the few statements its dialect writes differently."""
