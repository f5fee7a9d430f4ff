"""``python -m livetranslate_audio_pipeline worker``: the same as ``faust -A ... worker``."""

from livetranslate_audio_pipeline.app import app


def main() -> None:
    app.main()


if __name__ == "__main__":
    main()
