"""Simulated field stations that dial in to the hub's station gateway and speak their protocol."""
