"""The demo: reference media made on the spot, and the user guide's multi-subject example run through the SDK."""
