"""Implementations of the ports: the embedded SQLite database (sqlite/) and a local directory (localfs.py);
PostgreSQL and S3-compatible storage come next. Only the composition root (wiring.py) imports this package, and
database and storage drivers are imported nowhere else."""
