"""The registry: regions, departments, nodes and devices."""
