"""The live stream's pure state: messages, frames, streaming resampling, chunks, pacing."""

from __future__ import annotations

import argparse
import json
import zlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import soxr

from livetranslate_common.pcm import float_to_pcm16, pcm16_to_float
from livetranslate_gateway.core.chunking import SessionAudioContext, pcm_chunk_event
from livetranslate_gateway.core.live_stream import (
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    CLOSE_TOO_FAST,
    CLOSE_UNSUPPORTED_DATA,
    ChunkCutter,
    ClockMessage,
    EndMessage,
    LiveAudioState,
    LiveProtocolError,
    MonoResampler,
    Pacer,
    PingMessage,
    StartMessage,
    parse_control,
)
from livetranslate_gateway.demo import ResultPrinter, parse_targets
from livetranslate_schemas.events import ProcessingFlags, SourceType

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _tone(rate: int, seconds: float, channels: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    left = 0.4 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))
    if channels == 1:
        return left.astype(np.float32)
    right = 0.3 * np.sin(2 * np.pi * 1000 * t)
    return np.stack([left, right], axis=1).astype(np.float32)


def _odd_frames(pcm: bytes, bytes_per_frame: int, rng: np.random.Generator) -> list[bytes]:
    frames, position = [], 0
    while position < len(pcm):
        size = int(rng.integers(1, 700)) * bytes_per_frame
        frames.append(pcm[position : position + size])
        position += size
    return frames


# --------------------------------------------------------------------------- resampling


@pytest.mark.parametrize(("rate", "channels"), [(44_100, 2), (48_000, 1), (8_000, 1), (22_050, 2)])
def test_streaming_resampling_equals_one_shot(
    rate: int, channels: int, rng: np.random.Generator
) -> None:
    audio = _tone(rate, 2.3, channels, rng)
    pcm = float_to_pcm16(audio.reshape(-1))
    resampler = MonoResampler(rate, channels)
    parts = [resampler.push(frame) for frame in _odd_frames(pcm, 2 * channels, rng)]
    streamed = pcm16_to_float(np.concatenate([*parts, resampler.flush()]).tobytes())

    mono = pcm16_to_float(pcm).reshape(-1, channels).mean(axis=1, dtype=np.float32)
    one_shot = soxr.resample(mono, rate, 16_000)
    assert abs(len(streamed) - len(one_shot)) <= 1
    n = min(len(streamed), len(one_shot))
    # Same filter, same alignment: no clicks or shifts at the frames' boundaries.
    np.testing.assert_allclose(streamed[:n], one_shot[:n], atol=2e-3)
    # The output is PCM16, as it is published.
    assert parts[0].dtype == np.int16
    assert len(streamed) == pytest.approx(len(mono) * 16_000 / rate, abs=2)


def test_16k_mono_passes_through_exactly(rng: np.random.Generator) -> None:
    pcm = float_to_pcm16(_tone(16_000, 0.5, 1, rng))
    resampler = MonoResampler(16_000, 1)
    out = np.concatenate([resampler.push(f) for f in _odd_frames(pcm, 2, rng)])
    assert out.tobytes() == pcm
    assert len(resampler.flush()) == 0


def test_stereo_is_mixed_to_mono_before_resampling() -> None:
    left = np.full(1600, 0.5, dtype=np.float32)
    right = np.full(1600, -0.25, dtype=np.float32)
    pcm = float_to_pcm16(np.stack([left, right], axis=1).reshape(-1))
    out = MonoResampler(16_000, 2).push(pcm)
    np.testing.assert_allclose(out, 0.125 * 32768, atol=2)


# --------------------------------------------------------------------------- chunking


def test_chunks_have_fixed_boundaries_whatever_the_pushes(rng: np.random.Generator) -> None:
    samples = rng.integers(-16_000, 16_000, 16_000 * 3 + 777, dtype=np.int16)
    cutter = ChunkCutter(3200)
    chunks, position = [], 0
    while position < len(samples):
        size = int(rng.integers(1, 5000))
        chunks += cutter.push(samples[position : position + size])
        position += size
        assert cutter.pending_samples < 3200
    chunks += cutter.flush()
    assert [c.seq for c in chunks] == list(range(len(chunks)))
    assert [c.sample_offset for c in chunks] == [3200 * i for i in range(len(chunks))]
    assert [len(c.samples) for c in chunks[:-1]] == [3200] * (len(chunks) - 1)
    assert len(chunks[-1].samples) == len(samples) % 3200
    np.testing.assert_array_equal(np.concatenate([c.samples for c in chunks]), samples)
    assert cutter.samples_cut == len(samples)
    assert cutter.flush() == []
    # Nothing was said about the time of any sample.
    assert {c.capture_time for c in chunks} == {None}


def test_capture_time_follows_the_clients_clock_when_given() -> None:
    cutter = ChunkCutter(3200, capture_origin=T0)
    cutter.frame(0.0, received_at=T0 + timedelta(seconds=30))
    chunks = cutter.push(np.zeros(3200 * 3, dtype=np.int16))
    assert [c.capture_time for c in chunks] == [
        T0,
        T0 + timedelta(milliseconds=200),
        T0 + timedelta(milliseconds=400),
    ]


def test_capture_time_is_the_receive_time_of_the_frame_holding_the_first_sample() -> None:
    cutter = ChunkCutter(3200)
    t1, t2, t3 = (T0 + timedelta(seconds=s) for s in (1, 2, 3))
    chunks = []
    for position, received_at in [(0, t1), (2000, t2), (4000, t3)]:
        cutter.frame(position, received_at=received_at)
        chunks += cutter.push(np.zeros(2000, dtype=np.int16))
    chunks += cutter.flush()
    first, last = chunks
    # The second frame completed the first chunk, but its first sample came with the first.
    assert (first.capture_time, first.sample_offset) == (t1, 0)
    # Sample 3200 came in the frame of samples 2000..3999.
    assert (last.capture_time, last.sample_offset, len(last.samples)) == (t2, 3200, 2800)


def test_clock_marks_date_the_chunks_from_their_first_sample_on() -> None:
    cutter = ChunkCutter(3200)
    received = T0 + timedelta(hours=1)  # the server's clock: unused once the client's is known
    t1 = T0 + timedelta(seconds=10)
    t2 = t1 + timedelta(seconds=5)  # the client's clock jumped
    chunks = []
    for frame in range(25):  # 40 ms frames of 640 samples
        mark = {0: t1, 12: t2}.get(frame)
        cutter.frame(frame * 640, received_at=received, capture_time=mark)
        chunks += cutter.push(np.zeros(640, dtype=np.int16))
    # The second mark (sample 7680) is within chunk 2 (6400..9599): it dates chunk 3 on.
    assert [c.capture_time for c in chunks] == [
        t1,
        t1 + timedelta(milliseconds=200),
        t1 + timedelta(milliseconds=400),
        t2 + timedelta(milliseconds=120),  # sample 9600 is 1920 samples after the mark
        t2 + timedelta(milliseconds=320),
    ]


def test_clock_marks_override_the_start_and_the_receive_times() -> None:
    cutter = ChunkCutter(3200)
    received = [T0 + timedelta(seconds=s) for s in range(4)]
    cutter.frame(0, received_at=received[0])
    cutter.frame(3200, received_at=received[1])
    chunks = cutter.push(np.zeros(6400, dtype=np.int16))
    cutter.frame(6400, received_at=received[2], capture_time=T0)
    cutter.frame(9600, received_at=received[3])
    chunks += cutter.push(np.zeros(6400, dtype=np.int16))
    # No client clock before sample 6400: receive times; then the client's clock, running.
    assert [c.capture_time for c in chunks] == [
        received[0],
        received[1],
        T0,
        T0 + timedelta(milliseconds=200),
    ]


def test_clock_marks_are_placed_by_time_through_the_resampler(rng: np.random.Generator) -> None:
    # 44.1 kHz in 20 ms frames (882 samples, 320 at 16 kHz); the resampler's output lags
    # its input, but a mark belongs to the time of the frame's first sample.
    start = StartMessage(type="start", sample_rate_hz=44_100)
    state = LiveAudioState(start, chunk_ms=200)
    pcm = float_to_pcm16(_tone(44_100, 1.2, 1, rng))
    frames = [pcm[i : i + 882 * 2] for i in range(0, len(pcm), 882 * 2)]
    marks = {0: T0, 25: T0 + timedelta(seconds=30)}  # the second at 0.5 s: within chunk 2
    cut = []
    for index, frame in enumerate(frames):
        if index in marks:
            state.clock(marks[index])
        cut += state.push(frame, received_at=T0 - timedelta(days=1))
    cut += state.finish()
    assert [c.sample_offset for c in cut] == [0, 3200, 6400, 9600, 12800, 16000]
    second = T0 + timedelta(seconds=30) - timedelta(seconds=0.5)
    assert [c.capture_time for c in cut] == [
        T0,
        T0 + timedelta(milliseconds=200),
        T0 + timedelta(milliseconds=400),
        second + timedelta(milliseconds=600),
        second + timedelta(milliseconds=800),
        second + timedelta(milliseconds=1000),
    ]


def test_a_clock_message_holds_only_for_the_next_frame() -> None:
    start = StartMessage(type="start", sample_rate_hz=16_000)
    state = LiveAudioState(start, chunk_ms=200)
    received = T0 + timedelta(minutes=5)
    cut = state.push(bytes(640 * 2), received_at=received)  # 40 ms, no mark
    state.clock(T0)
    cut += state.push(bytes(2560 * 2), received_at=received)  # 160 ms from sample 640: marked
    cut += state.push(bytes(3200 * 2), received_at=received)
    first, second = cut + state.finish()
    assert first.capture_time == received  # its first sample came before the mark
    assert second.capture_time == T0 + timedelta(milliseconds=160)


def test_live_state_counts_and_chunk_events(rng: np.random.Generator) -> None:
    start = StartMessage(type="start", sample_rate_hz=48_000, channels=2, capture_time=T0)
    state = LiveAudioState(start, chunk_ms=200)
    pcm = float_to_pcm16(_tone(48_000, 1.05, 2, rng).reshape(-1))
    cut = []
    for frame in _odd_frames(pcm, 4, rng):
        cut += state.push(frame, received_at=T0)
    cut += state.finish()
    assert state.input_samples == len(pcm) // 4
    assert state.input_seconds == pytest.approx(1.05)
    assert state.chunks == len(cut) == 6
    assert state.samples == sum(len(c.samples) for c in cut) == pytest.approx(16_800, abs=2)
    context = SessionAudioContext(
        session_id="s1",
        user_id=None,
        source_type=SourceType.STREAM,
        language="de",
        preset="meeting",
        processing_flags=ProcessingFlags(translate_to=["es"]),
    )
    events = [
        pcm_chunk_event(
            context,
            c.samples.tobytes(),
            seq=c.seq,
            sample_offset=c.sample_offset,
            capture_time=c.capture_time,
        )
        for c in cut
    ]
    assert [e.chunk_id for e in events] == [f"s1:{i:08d}" for i in range(6)]
    assert events[2].sample_offset == 6400
    assert events[2].capture_time == T0 + timedelta(milliseconds=400)
    assert events[0].source_type == SourceType.STREAM
    config = events[0].audio_config
    assert (config.sample_rate_hz, config.channels, config.language, config.preset) == (
        16_000,
        1,
        "de",
        "meeting",
    )
    assert events[0].processing_flags == ProcessingFlags(translate_to=["es"])
    assert all(e.checksum_crc32 == zlib.crc32(e.audio or b"") for e in events)
    assert all(e.num_samples * 2 == len(e.audio or b"") for e in events)


# --------------------------------------------------------------------------- messages


def test_a_good_start_message_parses() -> None:
    start = parse_control(
        '{"type": "start", "sample_rate_hz": 44100, "channels": 2, "encoding": "pcm_s16le",'
        ' "capture_time": "2025-01-02T03:04:05Z"}'
    )
    assert isinstance(start, StartMessage)
    assert (start.sample_rate_hz, start.channels, start.capture_time) == (44_100, 2, T0)
    assert start.frame_bytes_limit == 44_100 * 4
    assert isinstance(parse_control('{"type": "end"}'), EndMessage)
    assert isinstance(parse_control('{"type": "ping"}'), PingMessage)
    clock = parse_control('{"type": "clock", "capture_time": "2025-01-02T04:04:05.25+01:00"}')
    assert isinstance(clock, ClockMessage)
    assert clock.capture_time == T0 + timedelta(milliseconds=250)


@pytest.mark.parametrize(
    ("text", "close_code"),
    [
        ('{"type": "start", "sample_rate_hz": 4000}', CLOSE_POLICY),
        ('{"type": "start", "sample_rate_hz": 96000}', CLOSE_POLICY),
        ('{"type": "start", "sample_rate_hz": 16000, "channels": 6}', CLOSE_POLICY),
        ('{"type": "start", "sample_rate_hz": 16000, "encoding": "opus"}', CLOSE_POLICY),
        ('{"type": "start", "sample_rate_hz": 16000, "capture_time": "yesterday"}', CLOSE_POLICY),
        ('{"type": "start", "sample_rate_hz": 16000, "capture_time": "2025-01-02T03:04:05"}', 1008),
        ('{"type": "start", "sample_rate_hz": 16000, "colour": "red"}', CLOSE_POLICY),
        ('{"type": "start"}', CLOSE_POLICY),
        ('{"type": "clock", "capture_time": "2025-01-02T03:04:05"}', CLOSE_POLICY),
        ('{"type": "clock", "capture_time": 1735787045}', CLOSE_POLICY),
        ('{"type": "clock"}', CLOSE_POLICY),
        ('{"type": "clock", "capture_time": "2025-01-02T03:04:05Z", "x": 1}', CLOSE_POLICY),
        ('{"type": "ping", "pad": "' + "x" * 1024 + '"}', CLOSE_TOO_BIG),
        ('{"type": "hello"}', CLOSE_UNSUPPORTED_DATA),
        ("[1, 2]", CLOSE_UNSUPPORTED_DATA),
        ("not json", CLOSE_UNSUPPORTED_DATA),
    ],
)
def test_bad_control_messages_say_why(text: str, close_code: int) -> None:
    with pytest.raises(LiveProtocolError) as raised:
        parse_control(text)
    assert raised.value.close_code == close_code
    message = raised.value.client_message()
    assert message["type"] == "error"
    assert message["code"]
    assert message["message"]


@pytest.mark.parametrize(
    ("channels", "size", "close_code", "code"),
    [
        (1, 3, CLOSE_UNSUPPORTED_DATA, "misaligned_frame"),
        (2, 6, CLOSE_UNSUPPORTED_DATA, "misaligned_frame"),
        (1, 16_000 * 2 + 2, CLOSE_TOO_BIG, "frame_too_large"),
        (2, 16_000 * 4 + 4, CLOSE_TOO_BIG, "frame_too_large"),
    ],
)
def test_bad_frames_are_refused(channels: int, size: int, close_code: int, code: str) -> None:
    start = StartMessage(type="start", sample_rate_hz=16_000, channels=channels)  # type: ignore[arg-type]
    with pytest.raises(LiveProtocolError) as raised:
        _check_frame(bytes(size), start)
    assert (raised.value.close_code, raised.value.code) == (close_code, code)


def test_frames_up_to_one_second_are_fine() -> None:
    start = StartMessage(type="start", sample_rate_hz=16_000, channels=2)
    # Exactly one second of stereo PCM16 is the largest frame allowed; one sample more is not.
    assert start.frame_bytes_limit == 16_000 * 4
    _check_frame(bytes(16_000 * 4), start)  # raises LiveProtocolError when refused
    _check_frame(b"", start)
    with pytest.raises(LiveProtocolError):
        _check_frame(bytes(16_000 * 4 + 4), start)


def _check_frame(data: bytes, start: StartMessage) -> None:
    """What the stream does with each binary frame first."""
    LiveAudioState(start, chunk_ms=100).frame_seconds(data)


# --------------------------------------------------------------------------- pacing


def _pacer(**overrides: float) -> Pacer:
    settings: dict[str, float] = {
        "burst_s": 2.0,
        "max_ahead_s": 10.0,
        "max_messages_per_s": 100.0,
        "message_burst": 200,
    }
    settings.update(overrides)
    return Pacer(
        100.0,
        burst_s=settings["burst_s"],
        max_ahead_s=settings["max_ahead_s"],
        max_messages_per_s=settings["max_messages_per_s"],
        message_burst=int(settings["message_burst"]),
    )


def test_a_burst_is_read_at_once_then_the_wall_clock_sets_the_pace() -> None:
    pacer = _pacer()
    pacer.on_audio(1.5, now=100.0)
    assert pacer.hold(100.0) == 0.0
    pacer.on_audio(1.0, now=100.0)
    assert pacer.ahead(100.0) == pytest.approx(2.5)
    assert pacer.hold(100.0) == pytest.approx(0.5)
    assert pacer.hold(100.5) == 0.0
    # A real-time client never waits: its audio never gets ahead of the clock.
    realtime = _pacer()
    for step in range(1, 100):
        realtime.on_audio(0.02, now=100.0 + step * 0.02)
        assert realtime.hold(100.0 + step * 0.02) == 0.0


def test_a_client_paced_by_holds_sends_in_real_time() -> None:
    pacer, now = _pacer(), 100.0
    for _ in range(300):  # 30 s of 100 ms frames, sent as fast as the gateway reads
        hold = pacer.hold(now)
        now += hold
        pacer.held(hold)
        pacer.on_audio(0.1, now)
    assert now - 100.0 == pytest.approx(30.0 - 2.0 - 0.1, abs=1e-6)
    assert pacer.held_s == pytest.approx(now - 100.0)


def test_too_far_ahead_is_closed() -> None:
    pacer = _pacer(burst_s=0.5, max_ahead_s=1.2)
    pacer.on_audio(1.0, now=100.0)
    with pytest.raises(LiveProtocolError) as raised:
        pacer.on_audio(1.0, now=100.5)
    assert raised.value.close_code == CLOSE_TOO_FAST
    assert "faster than real time" in raised.value.message


def test_message_floods_are_closed_but_a_steady_rate_is_not() -> None:
    steady = _pacer(message_burst=10, max_messages_per_s=50)
    for i in range(1000):
        steady.on_message(100.0 + i * 0.02)
    flood = _pacer(message_burst=10, max_messages_per_s=50)
    for _ in range(10):
        flood.on_message(100.0)
    with pytest.raises(LiveProtocolError) as raised:
        flood.on_message(100.001)
    assert raised.value.close_code == CLOSE_TOO_FAST
    flood_later = _pacer(message_burst=10, max_messages_per_s=50)
    for _ in range(10):
        flood_later.on_message(100.0)
    flood_later.on_message(100.021)  # one token refilled


def test_pacer_rejects_inconsistent_limits() -> None:
    with pytest.raises(ValueError, match="burst_s"):
        _pacer(burst_s=5.0, max_ahead_s=2.0)


# --------------------------------------------------------------------------- demo output


def _final(segment_id: str, start_ms: int, revision: int = 2) -> dict[str, object]:
    return {
        "type": "segment",
        "is_final": True,
        "session_id": "s",
        "segment_id": segment_id,
        "revision": revision,
        "start_ms": start_ms,
        "end_ms": start_ms + 900,
        "text": f"text {segment_id}",
        "speaker": "SPEAKER_00",
    }


def _translation(segment_id: str, target: str, revision: int = 2) -> dict[str, object]:
    return {
        "type": "translation",
        "segment_id": segment_id,
        "revision": revision,
        "target_language": target,
        "text": f"{target} {segment_id}",
    }


def test_demo_prints_a_final_once_all_its_translations_arrived(
    capsys: pytest.CaptureFixture[str],
) -> None:
    printer = ResultPrinter(["es", "de"], as_json=True)
    printer.handle(_translation("a", "es"))
    printer.handle(_final("a", 0))
    printer.handle(_final("b", 1000))
    printer.handle(_translation("a", "de", revision=1))  # of an older revision: not enough
    assert capsys.readouterr().out == ""
    printer.handle(_translation("a", "de"))
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert record["segment_id"] == "a"
    assert record["speaker"] == "SPEAKER_00"
    assert record["translations"] == {"es": "es a", "de": "de a"}
    # The session completes: what still waits is printed with what came.
    printer.handle(_translation("b", "es"))
    assert printer.handle({"type": "session_completed"}) is True
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["translations"] == {"es": "es b"}
    assert printer.finals == 2


def test_demo_without_targets_prints_finals_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    printer = ResultPrinter([], as_json=True)
    printer.handle({**_final("a", 0), "is_final": False})
    printer.handle(_final("a", 0))
    record = json.loads(capsys.readouterr().out)
    assert "translations" not in record
    human = ResultPrinter(["es"], as_json=False)
    human.handle(_final("a", 61_500))
    human.handle(_translation("a", "es"))
    assert capsys.readouterr().out.splitlines() == [
        "[01:01.50 - 01:02.40] SPEAKER_00: text a",
        f"{'':17}es: es a",
    ]


def test_translation_targets_are_checked() -> None:
    assert parse_targets("en, es,en") == ["en", "es"]
    with pytest.raises(argparse.ArgumentTypeError):
        parse_targets("english")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_targets("a1,b2")
    with pytest.raises(argparse.ArgumentTypeError):
        parse_targets("en,es,de,fr,it,pt")
