"""``python -m livetranslate_audio_pipeline worker``: the same as ``faust -A ... worker``."""

import sys

from livetranslate_audio_pipeline.app import app


def main() -> None:
    if "worker" in sys.argv[1:]:
        # Only a worker needs them (not `--help` or other commands); see changelogs.py.
        from livetranslate_audio_pipeline.changelogs import ensure_changelog_topics

        ensure_changelog_topics()
    app.main()


if __name__ == "__main__":
    main()
