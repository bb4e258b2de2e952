"""One module per dashboard; each exposes ``build(catalogue, site_lines) -> Dashboard``."""
