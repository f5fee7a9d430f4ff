"""``python -m livetranslate_audio_pipeline.reprocess worker``: the reprocessing worker."""

from livetranslate_audio_pipeline.reprocess.app import app


def main() -> None:
    app.main()


if __name__ == "__main__":
    main()
