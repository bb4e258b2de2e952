"""Benchmark: decoding and encoding one poll of the agent benchmark's 30-point device, old way vs. new.

Decoding: per point vs. the compiled block decoder. Encoding for the buffer:
one pydantic dump per reading (what the buffer stored before) vs. the msgspec
row body (``edge_agent.fragments.poll_body``); both must parse to the same
readings.

The baseline is what the poller did before: the reference transform
(``citysense.profiles.transform.to_value``) and a validated pydantic
``Reading`` per point. The candidate is the poller's ``PlanDecoder``. Both run
in the same process on the same registers (``bench/agent_sim.py``'s); the
result is the ratio, and that both give the same readings.

    python bench/agent_decode.py [--polls 5000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.agent_poll import POINTS  # noqa: E402
from bench.agent_sim import registers  # noqa: E402
from citysense.contract import Reading, encode  # noqa: E402
from citysense.profiles.model import Profile  # noqa: E402
from citysense.profiles.transform import to_value  # noqa: E402
from edge_agent.drivers.modbus.decoder import PlanDecoder  # noqa: E402
from edge_agent.drivers.modbus.planner import plan_profile  # noqa: E402
from edge_agent.fragments import poll_body  # noqa: E402


def bench_profile() -> Profile:
    points = [{"metric": f"{kind}{addr:02d}", "table": "holding", "address": addr, "type": dtype,
               **({"scale": scale} if scale != 1.0 else {})} for kind, addr, dtype, scale in POINTS]  # fmt: skip
    return Profile.model_validate({"id": "bench30", "model": "bench", "manufacturer": "bench", "source": "bench",
                                   "category": "bench", "points": points})  # fmt: skip


def best_of(fn: Callable[[], object], polls: int, repeat: int = 5) -> float:
    """Best time per call in microseconds over ``repeat`` rounds of ``polls`` calls."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(polls):
            fn()
        best = min(best, (time.perf_counter() - started) / polls * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polls", type=int, default=5000)
    args = parser.parse_args()
    prof = bench_profile()
    requests = plan_profile(prof)
    regs = registers()
    decoder = PlanDecoder("d1", prof, requests)

    def per_point() -> list[Reading]:
        out = []
        for req in requests:
            for p in req.points:
                value, quality = to_value(prof, p, req.slice_of(p, prof.pdu_address(p), regs))
                out.append(
                    Reading(device="d1", metric=p.metric, value=value, unit=p.unit, ts_ms=1, quality=quality.wire)
                )
        return out

    def block() -> list[Reading]:
        return decoder.decode([regs], [1])

    assert per_point() == block(), "the two decoders disagree"
    base, new = best_of(per_point, args.polls), best_of(block, args.polls)
    n = len(prof.points)
    print(f"| decoder | µs per poll ({n} points) | µs per point |\n|---|---|---|")
    print(f"| per point (transform + validated Reading) | {base:.1f} | {base / n:.2f} |")
    print(f"| compiled block decoder | {new:.1f} | {new / n:.2f} |")
    print(f"\nRatio: {base / new:.1f}x")

    readings = block()

    def pydantic_rows() -> bytes:
        return "\n".join([encode(r).decode() for r in readings]).encode()

    def msgspec_row() -> bytes:
        return poll_body(readings)

    parsed = [json.loads(line) for line in msgspec_row().splitlines()]
    assert parsed == [json.loads(line) for line in pydantic_rows().splitlines()], "the two encodings disagree"
    old, now = best_of(pydantic_rows, args.polls), best_of(msgspec_row, args.polls)
    print(f"\n| buffer encoding | µs per poll ({n} points) | µs per point |\n|---|---|---|")
    print(f"| pydantic dump per reading | {old:.1f} | {old / n:.2f} |")
    print(f"| msgspec row body | {now:.1f} | {now / n:.2f} |")
    print(f"\nRatio: {old / now:.1f}x")


if __name__ == "__main__":
    main()
