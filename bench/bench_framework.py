"""The demo framework's own cost, for every live demo of the book.

    python bench/bench_framework.py                 (or `make bench`)
    python bench/bench_framework.py GANLab VAEDemo  (only these demos)
    python bench/bench_framework.py --profile GPTDemo   (also cProfile the live run)

Every :class:`~genmech.live.Demo` subclass defined in genmech is found by importing each
genmech module, and built with its defaults. Each one trains for SECONDS of wall time
twice, from the same start:

* **headless**: ``demo.step(k)`` in a loop;
* **live**: inside a :class:`~genmech.live.LiveView` with ``k`` steps/frame, Play pressed,
  the asyncio loop running, then Pause.

``k`` is the largest speed of the view's slider whose training slice fills at most half
a frame period (``1 / demo.fps``), so frames can come at the demo's own rate.

No browser is attached, so a fake one stands in for it: every message a
:class:`~genmech.live.LiveFigure` sends is serialised as the kernel would (``json.dumps``
with ``allow_nan=False``: strict JSON, as Jupyter sends it), and each frame is
acknowledged with ``{"type": "drawn"}`` DRAWN_AFTER seconds later (the browser waits 30 ms
after each ``Plotly.react`` before it answers), so the one-frame-in-flight back-pressure
behaves as on a page. Not included: plotly.js's own drawing time in the browser, and the
kernel's socket.

The table: steps/s headless and live, the slow-down in % (budget: at most 25 %) and the
frames per second the main figure actually sent (target: at least 10). The slow-down that
the verdict uses compares steps per second of this process's CPU time (torch runs on one
thread), so other work on a shared machine does not count as the view's cost; the
slow-down in wall time is printed beside it. A demo reset (every STEP_CAP steps, or after
a divergence) is not timed in either run. draws/s counts the view's redraws; frames/s
falls below it when redraws come while a frame is still in flight (they are merged into
the next frame). kB/frame: the serialised size of a frame of the main figure. Then one line
per demo with the mean cost of each kind of redraw, the full one (``view.draw(full=True)``:
after Reset or any change of setting) included.

Timings are printed, never asserted: machines are noisy (this one may be shared).
"""
from __future__ import annotations

import asyncio
import contextlib
import cProfile
import importlib
import inspect
import io
import json
import pkgutil
import pstats
import sys
import time
import traceback

import genmech
from genmech.live import Demo, LiveView

SECONDS = 2.0        # wall time of each run (headless, live) per demo
STEP_CAP = 2000      # reset a run after this many steps (a demo may slow down late)
DRAWN_AFTER = 0.03   # seconds from sending a frame to the fake browser's "drawn"
MAX_SLOWDOWN = 25.0  # % budget of the live view's slow-down
MIN_FPS = 10.0       # frames per second the main figure should send
MAX_BLOCK = 0.1      # s: longest a training slice (and its redraw) may block the kernel
MAX_PAUSE = 0.25     # s: longest Pause may take to stop training
REDRAW_SECONDS = 0.2  # time spent measuring each kind of redraw (at least once each)


# --------------------------------------------------------------------------- the demos
def all_demos() -> list[type[Demo]]:
    """Every Demo subclass defined in a genmech module, in module order."""
    for info in pkgutil.iter_modules(genmech.__path__):
        try:
            importlib.import_module(f"genmech.{info.name}")
        except Exception as err:      # e.g. sphinxext without sphinx: not a demo module
            print(f"(not imported: genmech.{info.name}: {type(err).__name__}: {err})")

    found: list[type[Demo]] = []

    def walk(cls):
        for sub in cls.__subclasses__():
            if sub not in found and sub.__module__.startswith("genmech."):
                found.append(sub)
            walk(sub)

    walk(Demo)

    def place(cls):
        try:
            line = inspect.getsourcelines(cls)[1]
        except (OSError, TypeError):
            line = 0
        return cls.__module__, line

    return sorted(found, key=place)


# --------------------------------------------------------------------------- a fake browser
class FakeBrowser:
    """Stands in for the page behind one LiveFigure: serialises what the kernel would send
    and answers each frame with "drawn" after ``delay`` seconds."""

    def __init__(self, fig, delay: float = DRAWN_AFTER):
        self.fig = fig
        self.delay = delay
        self.frames = 0
        self.bytes = 0
        self.errors: list[str] = []
        fig.send = self.send          # the instance's send: the widget's comm is not used

    def send(self, content, buffers=None):
        try:
            self.bytes += len(json.dumps(content, allow_nan=False))
            self.bytes += sum(len(b) for b in buffers or [])       # binary arrays
        except (TypeError, ValueError) as err:   # Jupyter would refuse to send this
            if len(self.errors) < 3:
                self.errors.append(f"{type(err).__name__}: {err}")
        if isinstance(content, dict) and content.get("type") == "frame":
            self.frames += 1
            asyncio.get_running_loop().call_later(self.delay, self.ack)

    def ack(self):
        self.fig._answer(self.fig, {"type": "drawn"}, [])


# --------------------------------------------------------------------------- measurements
def choose_speed(demo: Demo, per_step: float | None = None) -> int:
    """The largest speed of the slider whose slice fits in half a frame period (the time
    of a step measured on a few steps, or ``per_step``)."""
    if per_step is None:
        demo.step(2)                               # warm-up: first calls build caches
        start = time.perf_counter()
        demo.step(3)
        per_step = (time.perf_counter() - start) / 3
    budget = 0.5 / demo.fps
    fitting = [s for s in LiveView.SPEEDS if s * per_step <= budget]
    return max(fitting) if fitting else 1


class Clock:
    """Wall time and this process's CPU time since start, less the stretches not timed."""

    def __init__(self):
        self.start = (time.perf_counter(), time.process_time())
        self.untimed = [0.0, 0.0]

    def wall(self) -> float:
        return time.perf_counter() - self.start[0] - self.untimed[0]

    def cpu(self) -> float:
        return time.process_time() - self.start[1] - self.untimed[1]

    @contextlib.contextmanager
    def not_timed(self):
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.untimed[0] += time.perf_counter() - wall
            self.untimed[1] += time.process_time() - cpu


def headless_rate(demo: Demo, k: int) -> tuple[float, float]:
    """Steps per second of wall time and per second of CPU time."""
    demo.reset()
    steps = 0
    clock = Clock()
    while clock.wall() < SECONDS:
        demo.step(k)
        if demo.steps >= STEP_CAP or demo.diverged:
            with clock.not_timed():
                steps += demo.steps
                demo.reset()
    wall, cpu = clock.wall(), clock.cpu()
    steps += demo.steps
    return steps / wall, steps / cpu


async def live_rate(view: LiveView, k: int, browser: FakeBrowser) -> dict:
    demo = view.demo
    demo.reset()
    view.draw(full=True)
    view.speed.value = k
    await asyncio.sleep(0.1)                      # let earlier frames be answered
    frames0, bytes0, draws0 = browser.frames, browser.bytes, view.frames_drawn
    steps, error = 0, ""
    clock = Clock()
    view.play()
    while clock.wall() < SECONDS:
        await asyncio.sleep(0.02)
        if view.message:                          # an exception stopped training
            error = view.message
            break
        if demo.steps >= STEP_CAP or demo.diverged or not view.playing:
            with clock.not_timed():
                view.pause()
                steps += demo.steps
                demo.reset()
                view.draw(full=True)              # what Reset does
                view.play()
    view.pause()
    wall, cpu = clock.wall(), clock.cpu()
    steps += demo.steps
    frames = browser.frames - frames0
    return dict(rate=steps / wall, cpu_rate=steps / cpu, fps=frames / wall,
                draws=(view.frames_drawn - draws0) / wall,
                kb_per_frame=(browser.bytes - bytes0) / max(frames, 1) / 1e3, error=error)


async def responsiveness(view: LiveView) -> dict:
    """At the fastest speed: the longest stretch the event loop was blocked (a training
    slice plus a redraw: nothing else, not Pause nor another cell, runs meanwhile), and
    the Pause latency (from the moment a click would arrive to the moment training stops),
    the worst of several clicks."""
    demo = view.demo
    demo.reset()
    view.draw(full=True)
    view.speed.value = max(LiveView.SPEEDS)
    loop = asyncio.get_running_loop()
    view.play()
    longest, last = 0.0, time.perf_counter()
    end = last + SECONDS / 2
    while time.perf_counter() < end and view.playing:
        await asyncio.sleep(0.002)
        now = time.perf_counter()
        longest, last = max(longest, now - last - 0.002), now
    latencies = []
    for _ in range(4):
        if not view.playing:
            view.play()
        await asyncio.sleep(0.05)
        asked = loop.time() + 0.013                  # the click lands mid-slice
        stopped = loop.create_future()

        def click():
            view.pause()
            stopped.set_result(loop.time())
        loop.call_at(asked, click)
        latencies.append(await stopped - asked)
    view.pause()
    return dict(longest_block=longest, pause_latency=max(latencies))


def mean_seconds(fn, after=None) -> float:
    """Mean wall time of ``fn()`` over REDRAW_SECONDS (at least once); ``after`` runs
    untimed after each call."""
    total, n = 0.0, 0
    while n < 1 or total < REDRAW_SECONDS:
        start = time.perf_counter()
        fn()
        total += time.perf_counter() - start
        n += 1
        if after is not None:
            after()
    return total / n


def redraw_costs(view: LiveView, browsers: list[FakeBrowser]) -> dict:
    """Mean ms of frame(), metric_frame(), an incremental draw() (sent at once: nothing in
    flight) and a full draw(full=True), at the state the live run reached."""
    def answer_all():      # twice: the first "drawn" may send a frame that was waiting
        for _ in range(2):
            for b in browsers:
                b.ack()

    answer_all()
    demo = view.demo
    return {
        "step": demo.steps,
        "frame()": mean_seconds(demo.frame) * 1e3,
        "metric_frame()": mean_seconds(demo.metric_frame) * 1e3,
        "draw()": mean_seconds(view.draw, after=answer_all) * 1e3,
        "draw(full=True)": mean_seconds(lambda: view.draw(full=True), after=answer_all) * 1e3,
    }


# --------------------------------------------------------------------------- the bench
async def bench(cls: type[Demo], profile: bool) -> dict:
    demo = cls()
    k = choose_speed(demo)
    headless, headless_cpu = headless_rate(demo, k)
    steady = choose_speed(demo, 1 / headless_cpu)  # a demo whose steps slow down late
    if steady != k:
        k = steady
        headless, headless_cpu = headless_rate(demo, k)
    view = LiveView(demo, key=f"bench-{cls.__name__}")
    browser = FakeBrowser(view.fig)
    browsers = [browser, FakeBrowser(view.curve)]
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    live = await live_rate(view, k, browser)
    if profiler:
        profiler.disable()
    live.update(await responsiveness(view))
    costs = redraw_costs(view, browsers)
    view.close()
    errors = [e for b in browsers for e in b.errors]
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
        print(f"\n-- cProfile of {cls.__name__}, live run (cumulative):")
        print(out.getvalue())
    return dict(name=cls.__name__, fps_cap=cls.fps, k=k, headless=headless,
                headless_cpu=headless_cpu, costs=costs,
                errors=errors, **live)


async def run(classes, profile: bool) -> list[dict]:
    rows = []
    for cls in classes:
        try:
            rows.append(await bench(cls, profile))
        except Exception:
            print(f"{cls.__name__}: failed")
            traceback.print_exc()
        else:
            print_row(rows[-1])
    return rows


HEADER = (f"{'demo':<22} {'fps':>3} {'k':>4} {'headless/s':>10} {'live/s':>8} "
          f"{'slow-down':>9} {'(wall)':>7} {'frames/s':>8} {'draws/s':>7} {'kB/frame':>8} "
          f"{'block ms':>8} {'pause ms':>8}  verdict")


def print_row(r: dict) -> None:
    slowdown = 100 * (1 - r["cpu_rate"] / r["headless_cpu"])
    wall_slowdown = 100 * (1 - r["rate"] / r["headless"])
    problems = []
    if slowdown > MAX_SLOWDOWN:
        problems.append("slow-down")
    if r["fps"] < MIN_FPS:
        problems.append("frames")
    if r["longest_block"] > MAX_BLOCK:
        problems.append("blocks")
    if r["pause_latency"] > MAX_PAUSE:
        problems.append("pause")
    if r["error"]:
        problems.append("error")
    if r["errors"]:
        problems.append("bad JSON")
    verdict = "ok" if not problems else "OVER (" + ", ".join(problems) + ")"
    r["over"] = bool(problems)
    print(f"{r['name']:<22} {r['fps_cap']:>3} {r['k']:>4} {r['headless']:>10.0f} {r['rate']:>8.0f} "
          f"{slowdown:>8.1f}% {wall_slowdown:>6.1f}% {r['fps']:>8.1f} {r['draws']:>7.1f} {r['kb_per_frame']:>8.1f} "
          f"{1e3 * r['longest_block']:>8.0f} {1e3 * r['pause_latency']:>8.0f}  {verdict}",
          flush=True)
    if r["error"]:
        print(f"    {r['error']}")
    for e in r["errors"]:
        print(f"    not strict JSON: {e}")


def main(argv: list[str]) -> int:
    profile = "--profile" in argv
    only = [a for a in argv if not a.startswith("--")]
    classes = [c for c in all_demos() if not only or c.__name__ in only]
    print(f"{len(classes)} live demos; {SECONDS:.0f} s headless and {SECONDS:.0f} s live each; "
          f"fake browser answers each frame after {DRAWN_AFTER * 1e3:.0f} ms")
    print(f"budget: slow-down <= {MAX_SLOWDOWN:.0f} %, main figure >= {MIN_FPS:.0f} frames/s "
          f"(fps: the demo's cap; k: steps/frame);\nat the fastest speed, the kernel blocked at most "
          f"{MAX_BLOCK * 1e3:.0f} ms at a time (block ms) and Pause answered within "
          f"{MAX_PAUSE * 1e3:.0f} ms (pause ms)")
    print("steps/s, frames/s: per second of wall time; slow-down: of steps per CPU second of "
          "this process (other work on the machine\nleft out), then of steps per wall second\n")
    print(HEADER)
    start = time.perf_counter()
    rows = asyncio.run(run(classes, profile))
    over = [r["name"] for r in rows if r.get("over")]
    print(f"\n{len(rows)} demos, {len(over)} over budget" + (f": {', '.join(over)}" if over else ""))
    print("\nmean ms per redraw, at the state the live run reached. draw(full=True) is what "
          "Reset and every change of setting cost;\nsending: trace updates made plain, applied "
          "to the Python figure and serialised (nothing in flight)")
    for r in rows:
        c = r["costs"]
        rest = c["draw()"] - c["frame()"] - c["metric_frame()"]
        print(f"  {r['name']:<22} at step {c['step']:>4}: draw(full=True) {c['draw(full=True)']:6.1f}   "
              f"draw() {c['draw()']:5.1f} = frame() {c['frame()']:5.1f} + metric_frame() "
              f"{c['metric_frame()']:4.1f} + sending {rest:5.1f}")
    print(f"\n({time.perf_counter() - start:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
