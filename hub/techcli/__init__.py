"""``citysense``: the field technician's command line over the hub's REST API (typer + rich)."""
