"""A device that goes away and comes back (`devices.Reconnecting`), and the loudspeaker's
session clock across it, on a fake clock: no sound card, no waiting."""

from __future__ import annotations

import numpy as np

from assistant.devices import Loudspeaker, Reconnecting
from assistant.errors import DeviceError
from assistant.testing import FakeClock


class Stream:
    """A device stream: alive until stopped; `ready` once its clock runs."""

    def __init__(self, ready: bool = True) -> None:
        self.alive, self.ready, self.closed = True, ready, False


class Device:
    """Opens streams while plugged in; keeps when the last sign of life came."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock, self.plugged, self.ready = clock, True, True
        self.sign = clock()
        self.opened: list[Stream] = []

    def open(self) -> Stream:
        if not self.plugged:
            raise DeviceError("no such device")
        self.opened.append(Stream(self.ready))
        return self.opened[-1]


def link(clock: FakeClock, device: Device, ready: bool = False) -> Reconnecting[Stream]:
    return Reconnecting(device.open, lambda s: setattr(s, "closed", True), clock,
                        alive=lambda s: s.alive, last_sign=lambda: device.sign,
                        ready=(lambda s: s.ready) if ready else None)


def test_a_stalled_device_is_lost_once_and_back_when_it_opens_again() -> None:
    """No sign of life for 2.5 s is "lost" (once, the stream closed); then it is tried every
    1 s, and the first try that opens it is "back"."""
    clock = FakeClock()
    device = Device(clock)
    reconnecting = link(clock, device)
    reconnecting.connect()
    first = device.opened[0]
    clock.advance(2.4)
    assert reconnecting.check() is None
    clock.advance(0.1)
    device.plugged = False
    assert reconnecting.check() == "lost"
    assert first.closed and reconnecting.device is None
    assert [reconnecting.check(), clock.advance(0.9) and reconnecting.check()] == [None, None]
    clock.advance(0.1)
    assert reconnecting.check() is None  # tried: still unplugged
    device.plugged = True
    clock.advance(0.5)
    assert reconnecting.check() is None  # not before the next try
    clock.advance(0.5)
    device.sign = clock()
    assert reconnecting.check() == "back"
    assert reconnecting.device is device.opened[1]
    assert reconnecting.check() is None


def test_a_stream_that_stops_by_itself_is_lost_at_once() -> None:
    """A stream that is no longer alive is "lost" at the next check, whatever its signs."""
    clock = FakeClock()
    device = Device(clock)
    reconnecting = link(clock, device)
    reconnecting.connect()
    device.opened[0].alive = False
    assert reconnecting.check() == "lost"


def test_a_reopened_device_that_needs_to_start_is_back_only_once_ready() -> None:
    """With a ready test, a reopened stream is "back" at the first check it passes; one that
    does not pass within 2.5 s is closed and opened again a second later."""
    clock = FakeClock()
    device = Device(clock)
    reconnecting = link(clock, device, ready=True)
    reconnecting.connect()
    clock.advance(3.0)
    assert reconnecting.check() == "lost"
    device.ready = False
    clock.advance(1.0)
    assert reconnecting.check() is None  # opened, pending
    stuck = device.opened[1]
    clock.advance(2.6)
    assert reconnecting.check() is None and stuck.closed
    clock.advance(1.0)
    assert reconnecting.check() is None  # opened again
    device.opened[2].ready = True
    assert reconnecting.check() == "back"
    assert reconnecting.device is device.opened[2]


class Speaker:
    """A LiveSpeaker whose clock is set by the test."""

    def __init__(self) -> None:
        self.alive, self.t, self.volume_steps, self.said_at = True, 0.0, [], []

    def clock(self) -> float:
        return self.t

    def schedule(self, say: object) -> None:
        self.said_at.append(say.t)  # type: ignore[attr-defined]

    def change_volume(self, step: float) -> None:
        self.volume_steps.append(step)

    def played(self, start_t: float, end_t: float) -> np.ndarray:
        return np.ones(round((end_t - start_t) * 16000), np.float32)

    def close(self) -> None:
        self.alive = False


def test_the_session_clock_carries_on_through_a_lost_loudspeaker() -> None:
    """The session clock is the speaker's; when the speaker stalls it stops for the stall,
    then runs on the wall clock while it is lost; back, the new stream's clock runs on from
    the session time reached, the volume is set as before, and speech is scheduled on the
    new stream's own time."""
    from assistant.events import Say

    wall = FakeClock(100.0)
    first, second = Speaker(), Speaker()
    streams = [first, second]
    loudspeaker = Loudspeaker(lambda: streams.pop(0), wall)
    first.t = 10.0
    wall.advance(10.0)
    assert loudspeaker.clock() == 10.0
    loudspeaker.change_volume(-0.25)
    wall.advance(2.5)  # stalled: its clock stays at 10.0
    assert loudspeaker.check() == "lost" and not loudspeaker.connected
    assert loudspeaker.played(0.0, 0.5).max() == 0.0  # nothing is played when lost
    wall.advance(1.0)
    assert loudspeaker.clock() == 11.0
    assert loudspeaker.check() is None  # opened, its clock not running yet
    second.t = 0.5
    wall.advance(0.5)
    assert loudspeaker.check() == "back" and loudspeaker.connected
    assert loudspeaker.clock() == 11.5
    assert second.volume_steps == [-0.25]
    second.t = 1.5
    assert loudspeaker.clock() == 12.5
    loudspeaker.schedule(Say(13.0, "Three.", "count"))
    assert second.said_at == [2.0]
