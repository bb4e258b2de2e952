"""The stop supervisor's re-cancels reach a task that lost its cancel inside a TaskGroup (Python 3.11's wait_for)."""

from __future__ import annotations

import asyncio

from citysense.runner import stop_and_wait


async def _loses_its_first_cancel(seen: list[str]) -> None:
    """As a library call whose ``wait_for`` returned its result although a cancel had landed."""
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        seen.append("first cancel lost")
    await asyncio.sleep(3600)  # carries on as if nothing happened: only a second cancel ends it


async def test_a_child_that_lost_its_cancel_is_cancelled_again_and_the_parent_ends() -> None:
    seen: list[str] = []

    async def parent() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_loses_its_first_cancel(seen), name="child")

    before = asyncio.all_tasks()
    main = asyncio.create_task(parent(), name="parent")
    await asyncio.sleep(0.05)
    children = asyncio.all_tasks() - before - {main}
    assert [t.get_name() for t in children] == ["child"]
    async with asyncio.timeout(10):
        await stop_and_wait(main, children)
    assert main.cancelled() and seen == ["first cancel lost"]


async def test_cancelling_only_the_parent_again_does_not_reach_that_child() -> None:
    # Why stop_and_wait cancels the started tasks: a TaskGroup passes its parent's first cancel on, not later ones.
    seen: list[str] = []

    async def parent() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(_loses_its_first_cancel(seen), name="child")

    main = asyncio.create_task(parent(), name="parent")
    await asyncio.sleep(0.05)
    for _ in range(5):
        main.cancel()
        await asyncio.wait({main}, timeout=0.1)
    assert not main.done() and seen == ["first cancel lost"]
    child = next(t for t in asyncio.all_tasks() if t.get_name() == "child")
    child.cancel()  # the cleanup this test owes
    async with asyncio.timeout(5):
        await asyncio.wait({main})
