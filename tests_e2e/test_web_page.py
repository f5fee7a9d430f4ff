"""The gateway's web page in a real browser, on the whole running system.

Headless Chromium (the system's, driven by Playwright) opens the page the gateway serves.
Its microphone is Chromium's fake capture device playing a WAV of synthesised speech once
(``--use-file-for-fake-audio-capture=<wav>%noloop``: the file plays from the moment the page
opens the microphone, then silence follows). The checks are what a person watching would
see: the spoken words in the final transcript, partials first, speakers named and coloured,
translations beside their segments, and a downloaded SRT holding the same words.

A screenshot of the page is left in ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import srt
from playwright.async_api import Browser, Page, async_playwright, expect
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from livetranslate_common.speech_samples import (
    FloatSamples,
    SpokenLine,
    conversation,
    normalise_words,
    word_error_rate,
    write_wav,
)
from tests_e2e.conftest import RunningSystem

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# Whisper runs on two shared CPU cores: a final can take many seconds.
RESULTS_TIMEOUT_MS = 180_000
# A "translation" into the spoken language needs no translation service (the pipeline passes
# the text through), so the page's translation column is exercised without one.
TRANSLATE_TO = "en"

FINAL_TEXTS = "#transcript .segment.final > .text"

# Marks every segment the page ever shows as a partial (a MutationObserver sees each change,
# however briefly it lasts), for the check that partials come before finals.
WATCH_PARTIALS = """() => {
  window.partialsSeen = new Set();
  const transcript = document.getElementById("transcript");
  new MutationObserver(() => {
    for (const item of transcript.querySelectorAll(".segment.partial")) {
      window.partialsSeen.add(item.dataset.segmentId);
    }
  }).observe(transcript, { subtree: true, childList: true, attributes: true });
}"""

# Whether the final segments on the page hold at least `need` of `words` (normalised as
# livetranslate_common.speech_samples.normalise_words does).
FINALS_HOLD_WORDS = """({ selector, words, need }) => {
  const text = [...document.querySelectorAll(selector)].map((e) => e.textContent).join(" ");
  const normal = text.toLowerCase().replaceAll("-", " ").replace(/[^a-z0-9' ]+/g, " ");
  const shown = new Set(normal.split(/\\s+/));
  return words.filter((word) => shown.has(word)).length >= need;
}"""


def _content_words(lines: list[SpokenLine]) -> list[str]:
    """The words that carry the lines' meaning (short function words left out)."""
    words = normalise_words(" ".join(line.text for line in lines)).split()
    return sorted({word for word in words if len(word) >= 4})


@asynccontextmanager
async def _chromium(fake_microphone: Path | None = None) -> AsyncIterator[Browser]:
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    if fake_microphone is not None:
        args += [
            "--use-fake-ui-for-media-stream",  # grant the microphone without asking
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_microphone}%noloop",
        ]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=args
        )
        try:
            yield browser
        finally:
            await browser.close()


async def _open_page(browser: Browser, url: str, problems: list[str]) -> Page:
    """The page, with its uncaught exceptions and console errors (a CSP violation is one)
    collected in ``problems``."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = await browser.new_page(viewport={"width": 1200, "height": 800})
    page.on("pageerror", lambda error: problems.append(f"exception: {error}"))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    response = await page.goto(url)
    assert response is not None
    assert response.ok
    # Served with a strict policy: its own scripts only, none inline.
    headers = await response.all_headers()
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    return page


async def _wait_for_words(page: Page, lines: list[SpokenLine], share: float) -> None:
    words = _content_words(lines)
    need = round(len(words) * share)
    try:
        await page.wait_for_function(
            FINALS_HOLD_WORDS,
            arg={"selector": FINAL_TEXTS, "words": words, "need": need},
            timeout=RESULTS_TIMEOUT_MS,
            polling=500,
        )
    except PlaywrightTimeoutError:
        shown = await page.locator("#transcript").inner_text()
        pytest.fail(f"{need} of {words} never appeared in the final transcript: {shown!r}")


async def _check_transcript(
    page: Page, lines: list[SpokenLine]
) -> tuple[list[str], dict[str, str]]:
    """The final texts on the page (the spoken words, no partial left) and each speaker's
    colour (one per speaker, a different one for each)."""
    await expect(page.locator("#transcript .segment.partial")).to_have_count(0)
    texts = await page.locator(FINAL_TEXTS).all_inner_texts()
    reference = " ".join(line.text for line in lines)
    assert word_error_rate(reference, " ".join(texts)) <= 0.15, texts

    # Every segment shows its speaker (no names given: the label), one colour per speaker.
    chips = page.locator("#transcript .segment.final .speaker")
    await expect(chips).to_have_count(len(texts))
    colours: dict[str, str] = {}
    for chip in await chips.all():
        await expect(chip).to_be_visible()
        label = await chip.inner_text()
        assert label.startswith("SPEAKER_"), label
        colour = await chip.evaluate("(chip) => getComputedStyle(chip).backgroundColor")
        assert colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"), colour
        assert colours.setdefault(label, colour) == colour
    assert len(set(colours.values())) == len(colours), colours
    return texts, colours


async def test_microphone_to_transcript_and_subtitles(
    running_system: RunningSystem,
    short_speech: tuple[FloatSamples, list[SpokenLine]],
    tmp_path: Path,
) -> None:
    samples, lines = short_speech
    microphone = write_wav(tmp_path / "microphone.wav", samples)
    key = running_system.api_key
    problems: list[str] = []
    async with _chromium(microphone) as browser:
        page = await _open_page(browser, f"{running_system.gateway_url}/", problems)
        try:
            await page.fill("#api-key", key)
            await page.fill("#title", "web page test")
            await page.fill("#translate-to", TRANSLATE_TO)
            await page.evaluate(WATCH_PARTIALS)
            await page.click("#start-mic")
            await expect(page.locator("#status")).to_contain_text("Listening", timeout=30_000)
            # Stopped once the last line is final: all of the speech has been sent by then.
            await _wait_for_words(page, lines, share=0.9)
            await page.click("#stop")
            await expect(page.locator("#status")).to_contain_text(
                "Completed", timeout=RESULTS_TIMEOUT_MS
            )
            await expect(page.locator("#error")).to_be_hidden()
            texts, _ = await _check_transcript(page, lines)

            # Partials came first, shown apart from finals.
            seen = set(await page.evaluate("() => [...window.partialsSeen]"))
            final_ids = await page.locator("#transcript .segment.final").evaluate_all(
                "(items) => items.map((item) => item.dataset.segmentId)"
            )
            assert seen & set(final_ids), (seen, final_ids)

            # Each final's translation beside it (here the text itself, see TRANSLATE_TO).
            translations = page.locator(
                f'#transcript .segment.final .translation[data-language="{TRANSLATE_TO}"]'
            )
            await expect(translations).to_have_count(len(texts), timeout=30_000)
            shown = await translations.locator(".translation-text").all_inner_texts()
            assert [normalise_words(t) for t in shown] == [normalise_words(t) for t in texts]

            # The SRT button downloads the stored transcript: the same words, with speakers.
            async with page.expect_download() as download_info:
                await page.click("#download-srt")
            download = await download_info.value
            assert download.suggested_filename.endswith(".srt")
            cues = list(srt.parse((await download.path()).read_text(encoding="utf-8")))
            labels = await page.locator("#transcript .segment.final .speaker").all_inner_texts()
            expected = [f"{label}: {text}" for label, text in zip(labels, texts, strict=True)]
            assert [normalise_words(cue.content) for cue in cues] == [
                normalise_words(line) for line in expected
            ]

            # The key stays in this tab's sessionStorage: not in the URL, not in localStorage.
            stored = await page.evaluate(
                "() => [sessionStorage.getItem('livetranslate.apiKey'), localStorage.length]"
            )
            assert stored == [key, 0]
            assert page.url == f"{running_system.gateway_url}/"
        finally:
            await page.screenshot(path=ARTIFACTS / "web-page-microphone.png", full_page=True)
    assert problems == []


async def test_file_to_transcript(running_system: RunningSystem, tmp_path: Path) -> None:
    # Two voices: the page gives each speaker label its own colour.
    samples, lines = conversation(
        [
            ("piper", "Good morning, shall we start with the budget review?"),
            ("en-gb-x-rp+f3", "Yes, the numbers for the last quarter are ready."),
        ],
        pause_s=1.0,
    )
    recording = write_wav(tmp_path / "meeting.wav", samples)
    url = running_system.gateway_url
    problems: list[str] = []
    async with _chromium() as browser:
        page = await _open_page(browser, f"{url}/", problems)
        await page.set_input_files("#audio-file", recording)

        # A wrong key: the page shows the gateway's own explanation, and starts nothing.
        async with httpx.AsyncClient(base_url=url) as client:
            refused = await client.post(
                "/api/sessions", json={}, headers={"Authorization": "Bearer not-the-key"}
            )
        assert refused.status_code == 401, refused.text
        await page.fill("#api-key", "not-the-key")
        await page.click("#start-file")
        await expect(page.locator("#error")).to_have_text(refused.json()["detail"])
        await expect(page.locator("#session")).to_be_hidden()

        await page.fill("#api-key", running_system.api_key)
        await page.click("#start-file")
        await expect(page.locator("#status")).to_contain_text(
            "Completed", timeout=RESULTS_TIMEOUT_MS
        )
        await expect(page.locator("#error")).to_be_hidden()
        texts, colours = await _check_transcript(page, lines)
        assert len(colours) == 2, colours  # piper's voice and espeak's
        await page.screenshot(path=ARTIFACTS / "web-page-file.png", full_page=True)

        # The JSON download is the stored transcript the page showed.
        async with page.expect_download() as download_info:
            await page.click("#download-json")
        download = await download_info.value
        stored = json.loads((await download.path()).read_text(encoding="utf-8"))
        assert [s["text"] for s in stored["segments"]] == texts
    # The browser logs the refused request ("... status of 401 ..."), and nothing else.
    assert [problem for problem in problems if "401" not in problem] == []
