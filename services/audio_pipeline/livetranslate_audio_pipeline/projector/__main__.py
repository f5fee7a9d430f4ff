"""``python -m livetranslate_audio_pipeline.projector worker``: the read-model projector."""

from livetranslate_audio_pipeline.projector.app import app


def main() -> None:
    app.main()


if __name__ == "__main__":
    main()
