"""The demo framework's own cost: how much a live view slows training, and its frame rate.

Trains the same demo for a fixed wall time twice — headless, then inside a LiveView whose
figure refreshes at the demo's frame rate — and prints steps per second for both.
(No browser is attached here, so the cost of sending updates over the kernel's socket
is not included; what is measured is building and applying the figure updates.)
"""
import asyncio
import time

from genmech.live import LiveView
from genmech.optim import OptimizerRace

SECONDS = 3.0


async def live_rate():
    view = LiveView(OptimizerRace(), key="bench")
    view.speed.value = 10
    total = 0
    view.play()
    start = time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        await asyncio.sleep(0.05)
        if view.demo.steps >= 1500:
            total += view.demo.steps
            view.demo.reset()
    total += view.demo.steps
    view.pause()
    elapsed = time.perf_counter() - start
    return total / elapsed, view.frames_drawn / elapsed


def main():
    steps_headless = 0
    demo = OptimizerRace()
    start = time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        demo.step(10)
        steps_headless += 10
        if demo.steps >= 1500:
            demo.reset()
    headless = steps_headless / SECONDS
    live, fps = asyncio.run(live_rate())
    print(f"optimizer race, headless:        {headless:8.0f} steps/s")
    print(f"optimizer race, live view:       {live:8.0f} steps/s at {fps:.1f} figure refreshes/s")
    print(f"slow-down from the live view:    {100 * (1 - live / headless):8.1f} %  (budget: 25 %)")


if __name__ == "__main__":
    main()
