"""Waiting on a condition, never on the clock: the machine that runs the tests may be busy."""
import asyncio


async def until(condition, timeout: float = 20.0) -> bool:
    """Yield to the event loop until ``condition()`` holds (or ``timeout`` seconds pass);
    returns whether it holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition() and loop.time() < end:
        await asyncio.sleep(0.01)
    return bool(condition())
