"""The DashScope wire protocol: model catalogue, request parsing and static validation."""
