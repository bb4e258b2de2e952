"""Provider adapters, one module each; :func:`build` makes one from its channel settings."""
