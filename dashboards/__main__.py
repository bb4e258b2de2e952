"""``python -m dashboards generate|check|push``: write, verify or upload the Grafana dashboards."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from dashboards import DashboardError
from dashboards.build import GENERATED, build_all, site_lines, stale, write
from dashboards.catalogue import Catalogue
from dashboards.push import Sources, push


def main(argv: list[str] | None = None) -> int:
    """Run one sub-command; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m dashboards", description=__doc__)
    parser.add_argument("--profiles", type=Path, help="device_profiles folder (default: the shipped one)")
    parser.add_argument("--node-kinds", type=Path, help="firmware_configs folder (default: the shipped one)")
    parser.add_argument("--alerts", type=Path, help="alerts.yaml: per-gauge warning/danger lines from device_rules")
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write the dashboards' JSON")
    gen.add_argument("--out", type=Path, default=GENERATED)
    sub.add_parser("check", help="fail when dashboards/generated is stale")
    up = sub.add_parser("push", help="upload the dashboards (and data sources) to Grafana")
    up.add_argument("--url", required=True, help="Grafana's base URL, e.g. http://grafana:3000")
    up.add_argument("--token", default=os.environ.get("GRAFANA_TOKEN", ""), help="service account token")
    up.add_argument("--folder", default="CitySense")
    up.add_argument("--influx-url", help="InfluxDB URL as Grafana sees it: also create/update the data sources")
    up.add_argument("--influx-db", default="citysense")
    up.add_argument("--hub-url", default="", help="hub API URL as Grafana sees it (Infinity data source)")
    up.add_argument("--hub-token", default=os.environ.get("CITYSENSE_TOKEN", ""))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cat = Catalogue.load(args.profiles, args.node_kinds)
        boards = build_all(cat, site_lines(args.alerts) if args.alerts else None)
        if args.command == "generate":
            for path in write(boards, args.out):
                print(path)
        elif args.command == "check":
            if wrong := stale(boards):
                print(f"stale: {', '.join(wrong)}; run python -m dashboards generate", file=sys.stderr)
                return 1
            print("dashboards/generated is up to date")
        else:
            if not args.token:
                print("--token (or GRAFANA_TOKEN) is required", file=sys.stderr)
                return 2
            sources = (
                Sources(args.influx_url, args.influx_db, args.hub_url, args.hub_token) if args.influx_url else None
            )
            for url in push(args.url, args.token, boards, sources=sources, folder=args.folder):
                print(url)
    except DashboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
