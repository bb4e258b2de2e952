"""The ``citysense`` commands: login, claim, node, readings, probe, import, qr."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Annotated, Any

import segno
import typer
import yaml
from rich.console import Console
from rich.live import Live
from rich.progress import Progress
from rich.table import Table

from hub.techcli.client import CliError, Login, load_login, request, save_login

app = typer.Typer(help="CitySense field tool: claim nodes, check them, import CSV.", no_args_is_help=True)
console = Console()
QR_PREFIX = "citysense:claim:"
CHUNK_ROWS = 50


def _fail(exc: CliError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


@app.command()
def login(
    hub: Annotated[str, typer.Option(help="Hub API URL, e.g. http://hub.example:8080")],
    user: Annotated[str, typer.Option(help="Your user name")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
) -> None:
    """Log in and save a token for the next commands."""
    try:
        out = request("POST", "/api/v1/auth/login", hub=hub, json={"username": user, "password": password})
    except CliError as exc:
        raise _fail(exc) from None
    path = save_login(Login(hub=hub, token=out["token"], user=user))
    console.print(f"logged in as [bold]{user}[/bold] (token saved in {path})")


@app.command()
def claim(
    code: Annotated[str, typer.Argument(help="Claim code, or the text of the node's QR code")],
    lat: Annotated[float, typer.Option(help="Latitude (WGS 84)")],
    lon: Annotated[float, typer.Option(help="Longitude (WGS 84)")],
    site: Annotated[str, typer.Option(help="Pole or station number")],
    village: Annotated[str | None, typer.Option(help="Village/community region code")] = None,
    endpoint: Annotated[
        list[str] | None, typer.Option(help="connection=host:port, e.g. rs485=192.168.1.20:502")
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write the agent configuration")] = Path("node.yaml"),
) -> None:
    """Claim a node on site and write its full agent configuration (with credentials) in one step."""
    endpoints: dict[str, dict[str, Any]] = {}
    for item in endpoint or []:
        name, _, addr = item.partition("=")
        host, _, port = addr.rpartition(":")
        if not name or not host or not port.isdigit():
            raise _fail(CliError(f"--endpoint {item!r}: expected connection=host:port"))
        endpoints[name] = {"host": host, "port": int(port)}
    body = {
        "claim_code": code.removeprefix(QR_PREFIX),
        "latitude": lat,
        "longitude": lon,
        "site": site,
        "village": village,
        "endpoints": endpoints,
    }
    try:
        result = request("POST", "/api/v1/provisioning/claim", login=load_login(), json=body)
    except CliError as exc:
        raise _fail(exc) from None
    out.touch(mode=0o600, exist_ok=True)
    out.write_text(yaml.safe_dump(result["agent_config"], allow_unicode=True, sort_keys=False))
    node = result["node"]
    console.print(f"[green]claimed[/green] {node['id']} ({node['kind']}) at {site}; configuration written to {out}")
    console.print(f"start the agent with: citysense-agent run --config {out}")


@app.command()
def node(node_id: str) -> None:
    """Show a node's status: provisioning state, liveness, versions, devices."""
    try:
        n = request("GET", f"/api/v1/nodes/{node_id}", login=load_login())
    except CliError as exc:
        raise _fail(exc) from None
    online = "[green]online[/green]" if n["online"] else "[red]offline[/red]"
    console.print(f"[bold]{n['id']}[/bold] {n['kind']} — {n['status']}, {online}")
    console.print(f"site {n['site'] or '-'}  region {n['region_code']}  department {n['department_id']}")
    console.print(f"config applied v{n['config_version']} / desired v{n['desired_config_version']}")
    table = Table("device", "profile", "unit")
    for d in n["devices"]:
        table.add_row(d["uid"], d["profile"], str(d["unit_id"]))
    console.print(table)


def _latest_table(device: str, login_: Login) -> Table:
    latest = request("GET", f"/api/v1/devices/{device}/latest", login=login_)
    table = Table("metric", "value", "unit", "quality", "ts_ms", title=device)
    for metric, r in sorted(latest["readings"].items()):
        table.add_row(metric, str(r["value"]), r["unit"], r["quality"], str(r["ts_ms"]))
    return table


@app.command()
def readings(
    device: Annotated[str, typer.Argument(help="Device id <node>.<device>")],
    watch: Annotated[bool, typer.Option(help="Keep refreshing (Ctrl-C stops)")] = False,
    interval_s: Annotated[float, typer.Option(min=0.5, help="Refresh period with --watch")] = 5.0,
    times: Annotated[int | None, typer.Option(min=1, help="Stop after this many refreshes")] = None,
) -> None:
    """Show the newest reading of every metric of a device, once or live."""
    try:
        login_ = load_login()
        if not watch:
            console.print(_latest_table(device, login_))
            return
        with Live(_latest_table(device, login_), console=console) as live:
            shown = 1
            while times is None or shown < times:
                time.sleep(interval_s)  # a terminal refresh, paced for a person
                live.update(_latest_table(device, login_))
                shown += 1
    except CliError as exc:
        raise _fail(exc) from None
    except KeyboardInterrupt:
        return


@app.command()
def probe(node_id: str, timeout_s: float = 15.0) -> None:
    """Ask the node's agent to read every device now and show what it got."""
    body = {"action": "probe", "timeout_s": timeout_s}
    try:
        out = request("POST", f"/api/v1/nodes/{node_id}/commands", login=load_login(), json=body)
    except CliError as exc:
        raise _fail(exc) from None
    if not out["ok"]:
        raise _fail(CliError(f"probe failed on the node: {out['error']}"))
    table = Table("device", "metric", "value", "quality")
    for device, metrics in sorted(out["result"].items()):
        for metric, (value, quality) in sorted(metrics.items()):
            table.add_row(device, metric, str(value), quality)
    console.print(table)


@app.command("import")
def import_csv(
    what: Annotated[str, typer.Argument(help="nodes or devices")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
) -> None:
    """Import a CSV file in chunks with a progress bar; print the rows that failed."""
    if what not in ("nodes", "devices"):
        raise _fail(CliError("what must be 'nodes' or 'devices'"))
    lines = file.read_text(encoding="utf-8-sig").splitlines()
    header, rows = lines[0], [r for r in lines[1:] if r.strip()]
    login_ = load_login()
    failed: list[dict[str, Any]] = []
    created = 0
    with Progress(console=console) as progress:
        task = progress.add_task(f"importing {what}", total=len(rows))
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            body = "\n".join([header, *chunk]) + "\n"
            try:
                report = request(
                    "POST", f"/api/v1/{what}/import", login=login_, content=body, headers={"Content-Type": "text/csv"}
                )
            except CliError as exc:
                raise _fail(exc) from None
            created += report["created"]
            for row in report["rows"]:
                if not row["ok"]:
                    failed.append({**row, "line": row["line"] + start})
            progress.advance(task, len(chunk))
    console.print(f"{created} imported, {len(failed)} failed")
    if failed:
        table = Table("line", "id", "error")
        for row in failed:
            table.add_row(str(row["line"]), row["id"], row["error"])
        console.print(table)
        raise typer.Exit(2)


@app.command()
def qr(
    code: str,
    out: Annotated[Path | None, typer.Option(help="Write a .png or .svg label instead of printing")] = None,
) -> None:
    """Print (or save) the QR code of a claim code, for the node's label."""
    symbol = segno.make(QR_PREFIX + code, error="m")
    if out is not None:
        symbol.save(str(out), scale=8)
        console.print(f"QR code written to {out}")
        return
    buf = io.StringIO()
    symbol.terminal(out=buf, compact=True)
    console.out(buf.getvalue(), highlight=False)


def main() -> None:
    """Entry point of the ``citysense`` console script."""
    app()
