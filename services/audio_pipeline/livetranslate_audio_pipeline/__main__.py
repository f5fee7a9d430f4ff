"""``python -m livetranslate_audio_pipeline worker``: the same as ``faust -A ... worker``."""

from livetranslate_audio_pipeline.app import app
from livetranslate_audio_pipeline.changelogs import ensure_changelog_topics
from livetranslate_common.faust_support import worker_main


def main() -> None:
    worker_main(app, ensure_changelog_topics)


if __name__ == "__main__":
    main()
