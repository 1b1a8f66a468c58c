"""Ctrl-C and SIGTERM end `run` between frames: the summary counts exactly the records written."""
from __future__ import annotations

import os
import signal

import pytest

from handpose_live import interrupts
from handpose_live.sinks.base import Sink


@pytest.fixture
def installed():
    saved = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # as a terminal would start us
    interrupts.install()
    yield
    signal.signal(signal.SIGINT, saved[0])
    signal.signal(signal.SIGTERM, saved[1])


def test_a_signal_inside_held_waits_for_its_end(installed):
    reached = []
    with pytest.raises(KeyboardInterrupt) as caught:
        with interrupts.held():
            os.kill(os.getpid(), signal.SIGTERM)
            reached.append("after the signal")
    assert reached == ["after the signal"] and caught.value.args == ("SIGTERM",)
    with interrupts.held():          # nothing left pending
        pass


def test_a_second_signal_interrupts_at_once(installed):
    reached = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.held():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
            reached.append("after both")
    assert reached == []
    with interrupts.held():          # the first one is not raised again later
        pass


def test_the_blocks_own_error_wins(installed):
    with pytest.raises(OSError, match="no space"):
        with interrupts.held():
            os.kill(os.getpid(), signal.SIGTERM)
            raise OSError("no space left on device")
    with interrupts.held():
        pass


def test_outside_held_it_interrupts_at_once(installed):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10**6):       # the handler runs at the next bytecode
            pass


class SignalOnThird(Sink):
    """Writes nothing; sends SIGTERM to this process from inside its third write, then finishes it."""

    def __init__(self):
        self.written = 0

    def write(self, frame, result):
        if self.written == 2:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):    # handler time: without `held` the interrupt lands here
                pass
        self.written += 1


def test_run_counts_the_frame_a_sigterm_interrupts(installed):
    """SIGTERM arriving inside a sink's write: the frame is written whole and counted, then the run
    ends (it counted one frame fewer than it wrote, now and then, when the signal fell between)."""
    from handpose_live import Tracker
    from handpose_live.stats import RunStats

    sink, stats = SignalOnThird(), RunStats()
    with pytest.raises(KeyboardInterrupt):
        Tracker(camera="synthetic", frames=10, realtime=False, width=160, height=120).run([sink], stats=stats)
    assert sink.written == 3 and stats.frames == 3
