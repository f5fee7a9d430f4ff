"""``python -m livetranslate_monitoring worker``: the analytics worker."""

import sys

from livetranslate_monitoring.app import app


def main() -> None:
    if "worker" in sys.argv[1:]:
        # Only a worker needs it (not `--help` or other commands); see changelogs.py.
        from livetranslate_monitoring.changelogs import ensure_changelog_topics

        ensure_changelog_topics()
    app.main()


if __name__ == "__main__":
    main()
