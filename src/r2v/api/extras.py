"""What a create keeps with its task besides the request itself: under `r2v serve --emulate`, the scenario the
emulator's middleware (api/emulator.py) chose for the call, for the emulated worker to play out."""

from __future__ import annotations

from fastapi import Request

from r2v.protocol import scenario as scenarios
from r2v.protocol.scenario import Scenario

STATE_KEY = "r2v_scenario"  # where the middleware leaves a call's scenario in the request's state


def task_extras(request: Request) -> dict:
    """The extras a create route hands to its service: the call's scenario, if it has one."""
    chosen: Scenario | None = request.scope.get("state", {}).get(STATE_KEY)
    return {scenarios.EXTRAS_KEY: chosen.text()} if chosen is not None else {}
