"""The demo: hub, simulated field devices and one edge agent per node, in one process."""
