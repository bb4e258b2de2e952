"""Serve the hub's commands (``{prefix}/{node}/cmd``): write a point, ping.

A write is checked and sent by :func:`edge_agent.drivers.modbus.writer.write_point`
ahead of the bus's polls; the reply carries the value read back, or the reason
it was refused. A command past its ``expires_ms`` is refused unexecuted: a
set-point that arrives an hour late is more dangerous than none.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from citysense.contract import Command, CommandReply
from edge_agent.drivers.modbus.poller import DevicePoller
from edge_agent.drivers.modbus.writer import write_point
from edge_agent.errors import AgentError, ReadBackFailed, ReadBackMismatch

log = logging.getLogger(__name__)


class CommandServer:
    """Executes commands against the node's Modbus devices."""

    def __init__(self, node: str, pollers: Mapping[str, DevicePoller], *, read_back: bool = True) -> None:
        self.node = node
        self.pollers = pollers
        self.read_back = read_back

    async def __call__(self, cmd: Command) -> CommandReply:
        """Execute ``cmd`` and return the reply to publish."""
        now = time.time_ns() // 1_000_000

        def reply(ok: bool, error: str | None = None, result: object = None) -> CommandReply:
            return CommandReply(id=cmd.id, node=self.node, ok=ok, error=error, result=result, ts_ms=now)

        if cmd.expires_ms < now:
            return reply(False, "expired")
        if cmd.action == "ping":
            return reply(True, result="pong")
        if cmd.action != "write":
            return reply(False, f"action '{cmd.action}' is not supported by this agent")
        poller = self.pollers.get(cmd.device or "")
        if poller is None or cmd.metric is None or cmd.value is None:
            return reply(False, f"write needs a known device, a metric and a value (device {cmd.device!r})")
        try:
            got = await write_point(
                poller.link, poller.profile, cmd.metric, poller.unit_id, cmd.value, read_back=self.read_back
            )
        except (ReadBackFailed, ReadBackMismatch) as exc:  # sent and acknowledged: not a refusal
            log.warning("%s: wrote %s=%r; %s", cmd.device, cmd.metric, cmd.value, exc)
            return reply(False, str(exc))
        except AgentError as exc:
            log.warning("%s: write %s=%r refused: %s", cmd.device, cmd.metric, cmd.value, exc)
            return reply(False, str(exc))
        log.info("%s: wrote %s=%r", cmd.device, cmd.metric, got)
        return reply(True, result=got)
