"""Behavioural tests of the hub's storage back ends."""
