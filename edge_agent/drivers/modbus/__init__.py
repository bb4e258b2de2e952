"""Modbus driver: planner (pure), transport client, and per-device poller."""
