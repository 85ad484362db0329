"""How the microphone's blocks are matched with what the loudspeaker was sounding: from the
devices' own timestamps, so a loudspeaker that ran dry on a busy machine does not move the
echo reference away from the echo."""

from __future__ import annotations

import numpy as np

from assistant.devices import AGREE, Alignment

BLOCK = 0.02


def feed(alignment: Alignment, offsets: list[float | None]) -> list[float]:
    """The offsets the alignment gives for blocks whose stamps say `offsets`."""
    return [alignment.update(i * BLOCK, None if o is None else i * BLOCK + o)
            for i, o in enumerate(offsets)]


def test_a_stamp_a_block_late_and_back_again_does_not_move_it() -> None:
    """Stamps at 0.5 s with a sample's jitter, one a whole block late: 0.5 s throughout,
    after the first AGREE blocks."""
    rng = np.random.default_rng(1)
    stamps: list[float | None] = [0.5 + float(j) for j in rng.normal(0, 0.3 / 16000, 40)]
    stamps[20] = 0.5 + 0.01
    got = feed(Alignment(), stamps)
    assert all(abs(o - 0.5) < 0.0002 for o in got[AGREE - 1 :])
    assert len(set(got[AGREE - 1 :])) == 1


def test_a_loudspeaker_that_ran_dry_moves_it_once_the_blocks_agree() -> None:
    """Opened at 0.5 s, the loudspeaker falls 30 ms behind at block 10: the offset is 0.5 s
    until the median of the last AGREE blocks moves (block 11) and 0.47 s from there on."""
    got = feed(Alignment(0.5), [0.5] * 10 + [0.47] * 10)
    assert got[:11] == [0.5] * 11
    assert [round(o, 9) for o in got[11:]] == [0.47] * 9


def test_a_slow_drift_of_the_stamps_does_not_move_it() -> None:
    """Stamps drifting 2 samples a second against the sound card (20 ms blocks): the offset
    stays where it started."""
    drift = [0.5 + i * BLOCK * 2 / 16000 for i in range(200)]
    got = feed(Alignment(0.5), drift)
    assert set(got) == {0.5}


def test_without_stamps_the_offset_given_stays() -> None:
    """A device with no timestamps: the offset taken when the stream opened, throughout."""
    assert feed(Alignment(1.25), [None] * 5) == [1.25] * 5


def test_the_offset_of_a_past_moment_is_the_one_that_held_then() -> None:
    """After a move at block 10, a time before it maps with the old offset."""
    alignment = Alignment(0.5)
    feed(alignment, [0.5] * 10 + [0.47] * 10)
    assert alignment.at(5 * BLOCK) == 0.5
    assert round(alignment.at(19 * BLOCK), 9) == 0.47
    assert alignment.at(-1.0) == 0.5
