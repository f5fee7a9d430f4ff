"""What a session asked the pipeline for."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from livetranslate_schemas.events import AudioConfig, ProcessingFlags


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """What a session asked for (SessionCreated, or the flags riding on its chunks)."""

    language: str | None = None
    transcribe: bool = True
    partials: bool = True
    diarize: bool = True
    translate_to: tuple[str, ...] = ()
    preset: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionOptions:
        return cls(**{**data, "translate_to": tuple(data.get("translate_to", ()))})

    @classmethod
    def of(cls, flags: ProcessingFlags | None, audio_config: AudioConfig) -> SessionOptions:
        flags = flags or ProcessingFlags()
        return cls(
            language=audio_config.language,
            transcribe=flags.transcribe,
            partials=flags.partials,
            diarize=flags.diarize,
            translate_to=tuple(dict.fromkeys(flags.translate_to)),
            preset=audio_config.preset,
        )
