"""The HTTP layer: DashScope's wire API on FastAPI. It imports the service layer, never an engine."""
