"""``python -m livetranslate_monitoring worker``: the analytics worker."""

from livetranslate_common.faust_support import worker_main
from livetranslate_monitoring.app import app
from livetranslate_monitoring.changelogs import ensure_changelog_topics


def main() -> None:
    worker_main(app, ensure_changelog_topics)


if __name__ == "__main__":
    main()
