"""CitySense test suite; ``tests.harness`` starts real servers for it."""
