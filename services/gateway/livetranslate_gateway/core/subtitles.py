"""A transcript's final segments as subtitles: SubRip (.srt) and WebVTT (.vtt).

One cue per segment, at the segment's times in the session's audio. The speaker leads the
cue: "Alice: ..." in SubRip, which has no markup for it, and a voice span (``<v Alice>``) in
WebVTT, which players show and style. A segment's translation can stand in for its text, so
a meeting gets subtitles in each language it was translated into.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

import srt
import webvtt


@dataclass(frozen=True, slots=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str
    # The speaker's name if they have one, else their label; None when unattributed.
    speaker: str | None = None


def _ordered(cues: Iterable[Cue]) -> list[Cue]:
    # Players expect cues in time order, with an end after the start.
    return sorted(
        (cue for cue in cues if cue.text.strip()), key=lambda cue: (cue.start_ms, cue.end_ms)
    )


def _end_ms(cue: Cue) -> int:
    return max(cue.end_ms, cue.start_ms + 1)


def to_srt(cues: Iterable[Cue]) -> str:
    """SubRip text: numbered cues, ``HH:MM:SS,mmm`` times."""
    return str(
        srt.compose(
            [
                srt.Subtitle(
                    index=index,
                    start=timedelta(milliseconds=cue.start_ms),
                    end=timedelta(milliseconds=_end_ms(cue)),
                    # A blank line would end the cue early: the text is one line.
                    content=_one_line(
                        cue.text if cue.speaker is None else f"{cue.speaker}: {cue.text}"
                    ),
                )
                for index, cue in enumerate(_ordered(cues), 1)
            ],
            reindex=False,
        )
    )


def to_webvtt(cues: Iterable[Cue]) -> str:
    """WebVTT text: a ``WEBVTT`` header, ``HH:MM:SS.mmm`` times, voice spans for speakers."""
    document = webvtt.WebVTT(
        captions=[
            webvtt.Caption(
                start=_vtt_time(cue.start_ms),
                end=_vtt_time(_end_ms(cue)),
                text=_vtt_text(cue),
            )
            for cue in _ordered(cues)
        ]
    )
    return str(document.content) + "\n"


def _vtt_text(cue: Cue) -> str:
    # Cue text is markup: &, < and > must be escaped, and a voice's name cannot hold ">".
    text = html.escape(_one_line(cue.text), quote=False)
    if cue.speaker is None:
        return text
    voice = html.escape(_one_line(cue.speaker), quote=False)
    return f"<v {voice}>{text}"


def _vtt_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def _one_line(text: str) -> str:
    # Line breaks inside a cue are legal, but a blank line ends it, and "-->" would read as
    # a timing line: recognised text never needs either.
    return " ".join(text.split()).replace("-->", "->")
