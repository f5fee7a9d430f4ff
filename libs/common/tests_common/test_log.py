import json
import logging

import pytest

from livetranslate_common.log import configure_logging, log_context


def test_json_lines_carry_the_trace(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "json")
    configure_logging("gateway")
    logger = logging.getLogger("livetranslate.test")
    with log_context(trace_id="a" * 32, session_id="s-1"):
        logger.info("chunk %d accepted", 7)
    logger.warning("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    inside, outside = lines[-2], lines[-1]
    assert inside["message"] == "chunk 7 accepted"
    assert inside["trace_id"] == "a" * 32
    assert inside["session_id"] == "s-1"
    assert inside["service"] == "gateway"
    assert inside["level"] == "info"
    assert "trace_id" not in outside


def test_text_format(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "text")
    configure_logging("pipeline")
    with log_context(trace_id="b" * 32):
        logging.getLogger("x").error("boom")
    assert f"[trace={'b' * 32}] boom" in capsys.readouterr().err
