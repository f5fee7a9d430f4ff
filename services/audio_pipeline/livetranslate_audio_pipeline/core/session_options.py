"""What a session asked the pipeline for."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
    # Names for speaker labels from the session's configuration, as sorted (label, name)
    # pairs: a tuple keeps the options immutable. Later renames live with the speaker state.
    speaker_names: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionOptions:
        # Checkpoints store these as JSON: tuples come back as lists (and older ones lack
        # speaker_names).
        return cls(
            **{
                **data,
                "translate_to": tuple(data.get("translate_to", ())),
                "speaker_names": tuple(
                    (str(label), str(name)) for label, name in data.get("speaker_names", ())
                ),
            }
        )

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
            speaker_names=tuple(sorted(flags.speaker_names.items())),
        )

    def with_flags(self, flags: ProcessingFlags) -> SessionOptions:
        """These options after a chunk's flags override them (from that chunk on).

        Speaker names are left alone: they are set at creation and renamed through their
        own event, and a chunk's default (empty) map must not erase them.
        """
        return replace(
            self,
            transcribe=flags.transcribe,
            partials=flags.partials,
            diarize=flags.diarize,
            translate_to=tuple(dict.fromkeys(flags.translate_to)),
        )
