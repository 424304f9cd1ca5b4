"""The worker side: running one job (pipeline) and the processes that claim and run tasks (pool)."""
