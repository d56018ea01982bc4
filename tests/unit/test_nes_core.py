"""The next-edit core without LSP: region, prompt, reply parsing, edits and filters."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from lsp_server.context.recent import EditHistory
from lsp_server.nes.engine import Answer, NesRequest, NextEditEngine
from lsp_server.nes.mode import allowed, effective_mode, is_loopback
from lsp_server.nes.prompt import CURSOR, REGION_END, REGION_START
from lsp_server.nes.region import select_region
from lsp_server.nes.reply import parse_rewrite
from lsp_server.nes.suggest import last_edit, propose
from lsp_server.textdiff import Span, diff_spans
from tests.helpers.nes_corpus import SCENARIOS, STYLES, Scenario, marked_region, styled


def apply_spans(text: str, spans: list[Span]) -> str:
    for s in sorted(spans, key=lambda s: s.start, reverse=True):
        text = text[:s.start] + s.text + text[s.end:]
    return text


def history_for(sc: Scenario, uri: str) -> EditHistory:
    clock = [0.0]
    h = EditHistory(clock=lambda: clock[0])
    h.open(uri, sc.before)
    h.change(uri, f"src/x.{sc.ext}", sc.edited)
    return h


def run_engine(sc: Scenario, reply_of: Any, **req: Any) -> tuple[Any, list[list[dict[str, Any]]]]:
    sent: list[list[dict[str, Any]]] = []

    async def ask(messages: list[dict[str, Any]], max_tokens: int) -> Answer:
        sent.append(messages)
        return Answer(reply_of(messages[-1]["content"]), prompt_tokens=100, completion_tokens=20)

    engine = NextEditEngine(lambda: ask)
    uri = f"file:///src/x.{sc.ext}"
    latest = history_for(sc, uri).latest(uri)
    result = asyncio.run(engine.suggest(NesRequest(
        uri=uri, version=2, text=sc.edited, cursor=sc.cursor, language_id=sc.language,
        path=f"src/x.{sc.ext}", invoked=True, latest=latest, **req)))
    return result, sent


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_corpus_exact_edits(sc: Scenario, style: str) -> None:
    result, sent = run_engine(sc, lambda user: styled(sc, style, marked_region(user)))
    assert result is not None, "no suggestion"
    assert apply_spans(sc.edited, result.spans) == sc.final
    assert_minimal(sc.edited, result.spans, diff_spans(sc.edited, sc.final))
    user = sent[0][-1]["content"]
    assert REGION_START in user and REGION_END in user and CURSOR in user
    assert_diff_shown(sc, user)


def assert_minimal(text: str, spans: list[Span], reference: list[Span]) -> None:
    """No edit rewrites more than the minimal diff does (no unchanged line is replaced)."""
    def size(ss: list[Span]) -> int:
        return sum(s.end - s.start + len(s.text) for s in ss)
    assert size(spans) <= size(reference)


def assert_diff_shown(sc: Scenario, user: str) -> None:
    """The user's edit is in the prompt as a diff: its changed lines as - and + lines."""
    old_lines = set(sc.before.splitlines()) - set(sc.edited.splitlines())
    new_lines = set(sc.edited.splitlines()) - set(sc.before.splitlines())
    assert new_lines
    for line in old_lines:
        assert f"\n-{line}\n" in user
    for line in new_lines:
        assert f"\n+{line}\n" in user


def test_region_is_a_few_lines_above_and_a_dozen_below() -> None:
    text = "".join(f"line {i}\n" for i in range(40))
    r = select_region(text, text.index("line 20"))
    assert (r.start_line, r.end_line) == (17, 33)
    assert r.text.startswith("line 17\n") and r.text.endswith("line 32\n")
    assert r.before.endswith("line 16\n") and r.after.startswith("line 33\n")


def test_region_is_bounded_in_tokens() -> None:
    text = "".join(f"{'x' * 200} {i}\n" for i in range(40))
    r = select_region(text, text.index("x 20") - 10, max_tokens=200, count=len)
    assert r.start_line <= 20 < r.end_line
    assert len(r.text) <= 210 * 1 or r.end_line - r.start_line == 1


def test_region_at_end_of_file_without_newline() -> None:
    r = select_region("a\nb", 3)
    assert r.text == "a\nb" and r.after == ""


def test_parse_reply_with_cut_off_fence_and_prose() -> None:
    region = "    x = 1\n    y = 2\n"
    assert parse_rewrite("```python\n    x = 1\n    y = 3\n", region=region) == \
        "    x = 1\n    y = 3\n"
    assert parse_rewrite("", region=region) is None
    prose = "I cannot predict anything useful here, sorry about that, truly.\n" * 3
    assert parse_rewrite(prose, region=region * 3) is None


def test_parse_drops_echoed_context() -> None:
    before, region, after = "def f():\n", "    a = 1\n    b = 2\n", "    return a\n"
    reply = "def f():\n    a = 1\n    b = 3\n    return a\n"
    assert parse_rewrite(reply, region=region, before=before, after=after) == \
        "    a = 1\n    b = 3\n"


def test_no_op_gives_nothing() -> None:
    text = "a = 1\nb = 2\n"
    r = select_region(text, 0)
    assert propose(text, r, r.text) == []


def test_repeat_and_undo_of_the_last_edit_are_dropped() -> None:
    before = "x = compute(a)\ny = compute(a)\n"
    text = "x = compute(a, b)\ny = compute(a)\n"
    last = last_edit(before, text)
    assert last is not None and last.inserted == ", b"
    r = select_region(text, text.index(")"))
    repeated = "x = compute(a, b, b)\ny = compute(a, b)\n"
    spans = propose(text, r, repeated, last=last, language_id="python")
    assert apply_spans(text, spans) == "x = compute(a, b)\ny = compute(a, b)\n"
    undone = "x = compute(a)\ny = compute(a, b)\n"
    spans = propose(text, r, undone, last=last, language_id="python")
    assert apply_spans(text, spans) == "x = compute(a, b)\ny = compute(a, b)\n"


def test_whitespace_and_comment_edits_are_kept_when_the_user_makes_them() -> None:
    before = "# helo world\nx = 1\n# helo again\n"
    text = "# hello world\nx = 1\n# helo again\n"
    r = select_region(text, 8)
    fixed = "# hello world\nx = 1\n# hello again\n"
    spans = propose(text, r, fixed, last=last_edit(before, text), language_id="python")
    assert apply_spans(text, spans) == fixed
    code_before = "x = 1\ny = 2\n\n\nz = 3\n"
    code_text = "x = 10\ny = 2\n\n\nz = 3\n"
    r = select_region(code_text, 5)
    noisy = "x = 10\ny = 2\n\n\n# set z\nz = 3  \n"
    spans = propose(code_text, r, noisy, last=last_edit(code_before, code_text),
                    language_id="python")
    assert spans == []


def test_edits_outside_the_region_are_dropped() -> None:
    text = "".join(f"v{i} = {i}\n" for i in range(30))
    r = select_region(text, text.index("v15"))
    spans = propose(text, r, r.text.replace("v15 = 15", "v15 = 16"))
    assert [text[s.start:s.end] for s in spans] == ["5"]
    assert all(r.start <= s.start and s.end <= r.end for s in spans)


def test_secrets_never_reach_the_model_and_come_back() -> None:
    key = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6"
    before = f'API_KEY = "{key}"\ndef call(url):\n    return get(url, key=API_KEY)\n'
    sc = Scenario("secret", "python", "py", before, "call(url)", "call(address)",
                  before.replace("call(url)", "call(address)").replace("get(url", "get(address"))

    def reply(user: str) -> str:
        region = marked_region(user).replace(CURSOR, "")
        assert key not in user
        return region.replace("get(url", "get(address")

    result, sent = run_engine(sc, reply)
    assert result is not None
    assert apply_spans(sc.edited, result.spans) == sc.final
    assert key not in str(sent)


def test_modes() -> None:
    assert is_loopback("http://127.0.0.1:8000/v1") and is_loopback("http://localhost:11434/v1")
    assert is_loopback("http://[::1]:8080/v1") and not is_loopback("https://api.mistral.ai/v1")
    assert effective_mode("auto", "http://localhost:8000/v1") == "onPause"
    assert effective_mode("auto", "https://api.mistral.ai/v1") == "invoked"
    assert effective_mode("off", "http://localhost:8000/v1") == "off"
    assert allowed("invoked", invoked=True) and not allowed("invoked", invoked=False)
    assert not allowed("off", invoked=True) and allowed("onPause", invoked=False)


def test_cache_answers_the_same_prompt_without_a_call() -> None:
    sc = SCENARIOS[0]
    calls: list[int] = []

    async def ask(messages: list[dict[str, Any]], max_tokens: int) -> Answer:
        calls.append(1)
        return Answer(styled(sc, "exact", marked_region(messages[-1]["content"])))

    engine = NextEditEngine(lambda: ask)
    uri = "file:///src/x.py"
    latest = history_for(sc, uri).latest(uri)

    def req() -> NesRequest:
        return NesRequest(uri=uri, version=2, text=sc.edited, cursor=sc.cursor,
                          language_id="python", path="x.py", latest=latest)

    async def both() -> tuple[Any, Any]:
        return await engine.suggest(req()), await engine.suggest(req())

    first, second = asyncio.run(both())
    assert len(calls) == 1 and first.spans == second.spans and second.source == "cache"


def test_typing_cancels_the_call_in_flight() -> None:
    sc = SCENARIOS[0]
    started = asyncio.Event()
    cancelled: list[bool] = []

    async def ask(messages: list[dict[str, Any]], max_tokens: int) -> Answer:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        raise AssertionError

    engine = NextEditEngine(lambda: ask)

    async def run() -> Any:
        task = asyncio.ensure_future(engine.suggest(NesRequest(
            uri="u", version=1, text=sc.edited, cursor=sc.cursor, language_id="python",
            path="x.py")))
        await started.wait()
        engine.note_edit("u")
        return await task

    assert asyncio.run(run()) is None
    assert cancelled == [True]
