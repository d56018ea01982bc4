"""Table-driven tests for cleaning model answers into the text inserted at the cursor."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lsp_server.completion.postprocess import StopDetector, clean_completion, decide_multiline
from lsp_server.model.prompts import HOLE_MARKER


@dataclass(frozen=True)
class Case:
    id: str
    raw: str
    prefix: str
    suffix: str
    expected: str
    multiline: bool = True
    lang: str = "python"


PY_BODY = "def f(x):\n    "
FO = "def f(x):\n    return fo"

CASES = [
    # 1. fences, prose, prompt echoes
    Case("fence_python", "```python\nreturn x\n```", PY_BODY, "\n", "return x"),
    Case("fence_no_language", "```\nreturn x\n```", PY_BODY, "\n", "return x"),
    Case("fence_tilde", "~~~python\nreturn x\n~~~", PY_BODY, "\n", "return x"),
    Case("fence_blank_line_after_open", "```python\n\nreturn x\n```", PY_BODY, "\n", "return x"),
    Case("intro_then_fence", "Here is the completion:\n```python\nreturn x\n```", PY_BODY, "\n",
         "return x"),
    Case("sure_intro_no_fence", "Sure! Here's the code:\nreturn x", PY_BODY, "\n", "return x"),
    Case("certainly_blank_then_code", "Certainly!\n\nreturn x", PY_BODY, "\n", "return x"),
    Case("sentence_before_fence", "To finish it we return the value:\n```python\nreturn x\n```",
         PY_BODY, "\n", "return x"),
    Case("explanation_after_fence",
         "```python\nreturn x\n```\n\nThis returns x so the caller gets it.", PY_BODY, "\n",
         "return x"),
    Case("explanation_after_code_no_fence",
         "print(x)\n\nThis prints the value of x to the console.", "x = 1\n", "", "print(x)"),
    Case("bold_explanation_after_code", "print(x)\n\n**Explanation:** prints x.", "x = 1\n", "",
         "print(x)"),
    Case("unclosed_fence_stream_cut", "```python\nreturn x", PY_BODY, "\n", "return x"),
    Case("partial_closing_fence", "```python\nreturn x\n``", PY_BODY, "\n", "return x"),
    Case("code_then_closing_fence", "return x\n```\nMore text", PY_BODY, "\n", "return x"),
    Case("hole_marker_before_answer", HOLE_MARKER + "o(x)", FO, "\n", "o(x)"),
    Case("hole_marker_echo_only", "    return fo" + HOLE_MARKER, FO, "\n", ""),
    Case("completion_tags", "<COMPLETION>o(x)</COMPLETION>", FO, "\n", "o(x)"),
    Case("completion_tags_own_lines", "<COMPLETION>\nreturn x\n</COMPLETION>", PY_BODY, "\n",
         "return x", multiline=False),
    Case("chat_template_leak", "return x<|im_end|>junk", PY_BODY, "\n", "return x"),
    Case("prompt_file_label_echo", "File: src/a.py (python)\n```python\nreturn x\n```", PY_BODY,
         "\n", "return x"),
    Case("prompt_label_after_code", "return x\nSuffix:\nfoo()", PY_BODY, "\n", "return x"),
    Case("partial_marker_at_stream_end", "return x{{FI", PY_BODY, "\n", "return x"),
    Case("docstring_sentence_kept", "Return the answer.", 'def f():\n    """', '\n',
         "Return the answer."),
    Case("markdown_keeps_fences", "```bash\npip install x\n```", "# Install\n\n", "",
         "```bash\npip install x\n```", lang="markdown"),
    Case("markdown_keeps_here_is", "Here is how to install it:", "# Install\n\n", "",
         "Here is how to install it:", lang="markdown"),
    Case("inline_backticks_unwrapped", "`o(x)`", FO, " + 1", "o(x)", multiline=False),
    Case("js_template_literal_kept", "`hi ${name}`", "const s = ", ";\n", "`hi ${name}`",
         lang="javascript"),
    Case("yaml_key_line_is_code", "code:\n  x: 1", "a: 1\n", "", "code:\n  x: 1", lang="yaml"),
    # 2. restating the text before the cursor
    Case("line_echo_with_indent", "    return foo(x)", FO, "\n", "o(x)"),
    Case("line_echo_without_indent", "return foo(x)", FO, "\n", "o(x)"),
    Case("line_echo_whitespace_differs", "x=foo(a)", "x = foo(", ")", "a", multiline=False),
    Case("token_echo_call", "compute(a, b)", "    result = compute(", "", "a, b)"),
    Case("token_echo_identifier", "foo(x)", FO, "\n", "o(x)"),
    Case("no_echo_mid_word", "o(x)", FO, "\n", "o(x)"),
    Case("operator_echo", "+ b", "total = a +", "", " b"),
    Case("single_char_token_not_echo", "b", "a = b", "", "b"),
    Case("echo_of_lines_above", "def add(a, b):\n    return a + b", "def add(a, b):\n    return a",
         "\n", " + b"),
    Case("echo_of_lines_above_fenced",
         "```python\ndef add(a, b):\n    return a + b\n```", "def add(a, b):\n    return a", "\n",
         " + b"),
    Case("echo_then_blank_cursor_line", "class A:\n    def f(self):\n        return 1",
         "class A:\n    def f(self):\n        ", "\n", "return 1"),
    Case("echo_then_current_line", "x = 1\ny = 2", "x = 1\ny = ", "", "2"),
    Case("echo_whitespace_tolerant", "  x = 1\ny = 2", "x = 1\ny = ", "", "2"),
    Case("similar_line_is_not_echo", "x = 2", "x = 1\n", "", "x = 2"),
    Case("echo_of_previous_line_only", "foo()", "    foo()\n    ", "\n", ""),
    Case("echo_requires_cursor_line_match", "x = 1\nz = 3", "x = 1\ny = ", "", "x = 1\nz = 3"),
    Case("closer_line_is_not_echo", "}\nfoo()", "  }\n", "", "}\nfoo()", lang="javascript"),
    # 3. restating the text after the cursor
    Case("suffix_rest_of_line", "a, b)", "x = foo(", "b)\n", "a, ", multiline=False),
    Case("suffix_quote_and_paren", 'hello")', 'print("', '")\n', "hello", multiline=False),
    Case("suffix_paren_semicolon", "x);", "foo(", ");\n", "x"),
    Case("suffix_whole_line_echo", "foo(x)", "    ", "foo(x)\n", "", multiline=False),
    Case("suffix_next_line_duplicated", "y = 2\n    return y", PY_BODY, "\n    return y\n",
         "y = 2"),
    Case("suffix_next_line_only", "return y", PY_BODY, "\n    return y\n", ""),
    Case("suffix_several_following_lines",
         "y = 2\n    z = y + 1\n    return z\n\ndef g():", PY_BODY,
         "\n    z = y + 1\n    return z\n", "y = 2"),
    Case("suffix_short_line_needs_more", "x = 1\npass\ny = 2", "", "\npass\n",
         "x = 1\npass\ny = 2"),
    Case("suffix_skip_same_line_closer", "\n    a,\n    b\n)\nprint(x)", "foo(", ")\nprint(x)\n",
         "\n    a,\n    b"),
    Case("suffix_own_closer_kept", "if (x) {\n    y();\n  }", "function f() {\n  ", "\n}\n",
         "if (x) {\n    y();\n  }", lang="javascript"),
    # 4. closers the file already has
    Case("doubled_paren", "o(x))", "print(fo", ")\n", "o(x)", multiline=False),
    Case("own_paren_kept", "len(x)", "print(", ")\n", "len(x)", multiline=False),
    Case("doubled_paren_then_semicolon", "x);", "foo(", ")\n", "x"),
    Case("one_of_two_closers_doubled", "x))", "f(g(", ")\n", "x)"),
    Case("doubled_bracket_pair", "x]]", "a[b[", "]]\n", "x"),
    Case("unrelated_closer_kept", "x)", "a[f(", "]\n", "x)"),
    Case("closer_with_space_before", "a, b )", "foo(", ")\n", "a, b"),
    # 5. block ends and single-line mode
    Case("python_dedent_stops", "return 1\n    else:\n        return 2",
         "def f(x):\n    if x:\n        ", "\n    return 0\n", "return 1"),
    Case("after_opener_line", "\n    return 1\n\ndef g():\n    return 2", "def f():",
         "\n\ndef g():\n    return 2\n", "\n    return 1"),
    Case("next_top_level_definition", "def foo():\n    return 1\n\n\ndef bar():\n    return 2",
         "", "", "def foo():\n    return 1"),
    Case("next_method", "def a(self):\n        return 1\n\n    def b(self):\n        pass",
         "class A:\n    ", "", "def a(self):\n        return 1"),
    Case("decorated_next_definition", "def a():\n    pass\n\n@app.get\ndef b():\n    pass", "", "",
         "def a():\n    pass"),
    Case("same_level_statements_kept", "a = 1\n    b = 2\n    return a + b", PY_BODY, "",
         "a = 1\n    b = 2\n    return a + b"),
    Case("brace_closer_kept_at_eof", "\n  return 1;\n}\n\nfunction g() {}", "function f() {", "",
         "\n  return 1;\n}", lang="javascript"),
    Case("brace_closer_dropped_when_present", "\n  return 1;\n}", "function f() {", "\n}\n",
         "\n  return 1;", lang="javascript"),
    Case("brace_closer_on_cursor_line", "\n  return 1;\n}", "function f() {", "}",
         "\n  return 1;", lang="javascript"),
    Case("brace_body_closer_present", "return 1;\n}", "function f() {\n  ", "\n}\n",
         "return 1;", lang="javascript"),
    Case("brace_else_not_kept", "return 1;\n} else {\n  return 2;", "if (x) {\n  ", "",
         "return 1;", lang="javascript"),
    Case("python_paren_closer_kept", "a,\n    b,\n)", "x = foo(\n    ", "", "a,\n    b,\n)"),
    Case("python_paren_closer_present", "a,\n    b,\n)", "x = foo(\n    ", "\n)\n", "a,\n    b,"),
    Case("lua_end_kept", "\n  return 1\nend", "function f()", "", "\n  return 1\nend",
         lang="lua"),
    Case("lua_end_present", "\n  return 1\nend", "function f()", "\nend\n", "\n  return 1",
         lang="lua"),
    Case("go_tabs", "return 1\n}", "func f() int {\n\t", "\n}\n", "return 1", lang="go"),
    Case("comment_after_colon_is_opener", "\n    return 1\nx = 2", "def f():  # doc", "",
         "\n    return 1"),
    Case("single_line_first_line_only", "foo()\nbar()", "x = ", " or y", "foo()",
         multiline=False),
    Case("single_line_no_leading_newline", "\nfoo()", "x = ", "y", "", multiline=False),
    Case("multiline_leading_newline_ok", "\n    pass", "def f():", "", "\n    pass"),
    Case("multiline_blank_line_drops_newline", "\n    return 1", PY_BODY, "", "return 1"),
    # 6. degenerate output and whitespace
    Case("empty", "", PY_BODY, "", ""),
    Case("whitespace_only", "  \n\t\n", PY_BODY, "", ""),
    Case("fence_only", "```python\n```", PY_BODY, "", ""),
    Case("same_line_repeated", "x = 0\nx = 0\nx = 0\nx = 0", "", "", ""),
    Case("three_repeats_kept", "x = 0\nx = 0\nx = 0", "", "", "x = 0\nx = 0\nx = 0"),
    Case("loop_after_content", "a = 1\nb = f()\nc = g()\nb = f()\nc = g()\nb = f()\nc = g()",
         "", "", "a = 1"),
    Case("punctuation_run", ";;;;;", "x = 1", "", ""),
    Case("punctuation_odd_chars", "~", "x = 1", "", ""),
    Case("closing_paren_is_fine", ")", "foo(bar", "", ")"),
    Case("closer_combo_is_fine", "});", "foo(function () {\n  x();\n", "", "});",
         lang="javascript"),
    Case("ellipsis_is_fine", " ...", "def f():", "", " ..."),
    Case("long_repeated_tokens", "x = [" + "0, " * 60 + "]", "", "", ""),
    Case("long_char_run", "y = '" + "a" * 120 + "'", "", "", ""),
    Case("long_varied_line_kept", "x = " + " + ".join(f"v{i}" for i in range(40)), "", "",
         "x = " + " + ".join(f"v{i}" for i in range(40))),
    Case("degenerate_line_after_content", "a = 1\n" + "b" * 150, "", "", "a = 1"),
    Case("trailing_whitespace_and_blank_lines", "foo()   \n\n\n", "", "", "foo()"),
    # 7. leading spaces and typed indentation
    Case("space_after_space", " x", "return ", "", "x"),
    Case("space_kept_without_space", " x", "return", "", " x"),
    Case("echo_leaves_space", "return x", "    return ", "", "x"),
    Case("typed_indent_not_doubled", "    return 1", PY_BODY, "", "return 1"),
    Case("typed_indent_tabs", "\treturn 1", "func f() int {\n\t", "\n}\n", "return 1", lang="go"),
    Case("column_zero_keeps_answer_indent", "    return 1", "def f():\n", "", "    return 1"),
    Case("answer_lines_keep_absolute_indent", "if x:\n        y()", PY_BODY, "",
         "if x:\n        y()"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_clean_completion(case: Case) -> None:
    got = clean_completion(
        case.raw, prefix=case.prefix, suffix=case.suffix, language_id=case.lang,
        multiline=case.multiline,
    )
    assert got == case.expected


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("    ", "", True),
        ("def f():", "", True),
        ("foo(", ")", True),
        ('print("', '");', True),
        ("x = [", "],", True),
        ("", "   ", True),
        ("x = ", "y", False),
        ("a", " + b", False),
        ("if ", "x:", False),
        ("foo(", ", b)", False),
    ],
)
def test_decide_multiline(before: str, after: str, expected: bool) -> None:
    assert decide_multiline(before, after) is expected


# --- streaming: stop early only where cleanup would cut anyway ----------------------------

ADVERSARIAL_TAILS = [
    "",
    "\n",
    "x",
    "\n```python\nzzz = 1\n```\n",
    "```\n",
    "</COMPLETION>",
    "\nThis explains the code above.\n",
    "\n    deeper()\n",
    "\nshallow()\n",
    "\n}\n",
    "\ndef g():\n    pass\n",
    "))",
    " + 1\n",
]


def _clean(text: str, case: Case) -> str:
    return clean_completion(text, prefix=case.prefix, suffix=case.suffix,
                            language_id=case.lang, multiline=case.multiline)


def _first_stop(case: Case, chunk: int = 1) -> int | None:
    """Stream `case.raw` in chunks; return the length fed when the detector said stop."""
    det = StopDetector(prefix=case.prefix, suffix=case.suffix, language_id=case.lang,
                       multiline=case.multiline)
    for end in range(chunk, len(case.raw) + chunk, chunk):
        end = min(end, len(case.raw))
        if det.feed(case.raw[:end]):
            return end
    return None


def _assert_stop_is_safe(case: Case, at: int) -> None:
    acc = case.raw[:at]
    expected = _clean(acc, case)
    assert _clean(case.raw, case) == expected
    for tail in ADVERSARIAL_TAILS:
        assert _clean(acc + tail, case) == expected, tail


STOP_CASES = [
    # (case, text fed when the detector must first say stop, or None for never)
    (Case("single_line_newline", "o(x)\nmore()", FO, " + 1", "o(x)", multiline=False),
     "o(x)\n"),
    (Case("single_line_waits_for_echo", "a = compute()\nb = 2 or 0\n", "a = compute()\nb = ",
          " or 0", "2", multiline=False), "a = compute()\nb = 2 or 0\n"),
    (Case("single_line_intro_then_code", "Sure!\no(x)\n", FO, " + 1", "o(x)", multiline=False),
     "Sure!\no(x)\n"),
    (Case("prose_may_precede_fence", "Return the sum of both.\nmore", 'def f():\n    """',
          "\n", "Return the sum of both.", multiline=False), None),
    (Case("dedent_line_complete", "return 1\n    else:\n        return 2\n",
          "def f(x):\n    if x:\n        ", "\n", "return 1"), "return 1\n    else:\n"),
    (Case("closing_fence", "```python\nx = 1\ny = 2\n```\nThanks", "", "", "x = 1\ny = 2"),
     "```python\nx = 1\ny = 2\n```"),
    (Case("brace_closer_line", "\n  return 1;\n}\nfunction g() {}\n", "function f() {", "",
          "\n  return 1;\n}", lang="javascript"), "\n  return 1;\n}\n"),
    (Case("end_tag", "o(x)</COMPLETION> trailing", FO, " + 1", "o(x)", multiline=False),
     "o(x)</COMPLETION>"),
    (Case("top_level_keeps_going", "x = 1\ny = 2\n", "", "", "x = 1\ny = 2"), None),
    (Case("echo_in_progress", "def add(a, b):\n    return a + b\n    \n",
          "def add(a, b):\n    return a", "\n", " + b"), None),
]


@pytest.mark.parametrize(("case", "stop_at"), STOP_CASES, ids=[c.id for c, _ in STOP_CASES])
def test_stop_detector_stops_at_the_cut(case: Case, stop_at: str | None) -> None:
    at = _first_stop(case)
    if stop_at is None:
        assert at is None
        return
    assert at == len(stop_at)
    assert case.raw[:at] == stop_at
    assert _clean(stop_at, case) == case.expected
    _assert_stop_is_safe(case, at)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_stop_detector_is_safe_on_every_table_case(case: Case) -> None:
    for chunk in (1, 3, 7):
        at = _first_stop(case, chunk)
        if at is not None:
            _assert_stop_is_safe(case, at)


def test_stop_detector_restart_resets() -> None:
    det = StopDetector(prefix=FO, suffix=" + 1", multiline=False)
    assert det.feed("o(x)\n")
    assert not det.feed("o(")  # a new stream started: shorter than before
    assert det.feed("o(x)\n")


PREFIXES = [
    ("", "", "python"),
    (PY_BODY, "\n    return y\n", "python"),
    ("def add(a, b):\n    return a", "\n\ndef sub(a, b):\n    return a - b\n", "python"),
    ("def f(x):\n    if x:\n        ", "\n    return 0\n", "python"),
    ("function f() {\n  ", "\n}\n", "javascript"),
    ("function f() {", "", "javascript"),
    ("x = foo(", ")\n", "python"),
    ("class A:\n    def f(self):\n        ", "", "python"),
]

FRAGMENTS = [
    "", "```python", "```", "Here is the code:", "Sure!", "This returns the value here.",
    "return x", "    return x", "        return x", "    else:", "}", "  }", "def g():",
    "def add(a, b):", "    return a + b", "class A:", "    def f(self):", "x = 1", "x = 1",
    "    y = 2", "a, b)", "foo(", "    return y", "return 1;", HOLE_MARKER, "<COMPLETION>",
    "</COMPLETION>", "Return the sum.", "  ", "\t", "))", "end", "# note", "**Explanation**",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ctx=st.sampled_from(PREFIXES),
    multiline=st.booleans(),
    parts=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=8),
    tail=st.text(alphabet=" x(){}\n`:#", max_size=12),
    chunk=st.integers(min_value=1, max_value=9),
)
def test_stop_detector_never_changes_the_result(
    ctx: tuple[str, str, str], multiline: bool, parts: list[str], tail: str, chunk: int
) -> None:
    prefix, suffix, lang = ctx
    raw = "\n".join(parts) + tail
    case = Case("h", raw, prefix, suffix, "", multiline=multiline, lang=lang)
    at = _first_stop(case, chunk)
    if at is not None:
        _assert_stop_is_safe(case, at)


def test_linear_time_on_long_degenerate_answers() -> None:
    raw = "(" * 20000 + "x = 1\n" * 2000 + "```" * 100
    start = time.perf_counter()
    clean_completion(raw, prefix="x = 1\n" * 3000, suffix=")" * 1000, multiline=True)
    det = StopDetector(prefix="x = 1\n" * 3000, suffix="", multiline=True)
    for end in range(0, len(raw), 64):
        det.feed(raw[:end])
    assert time.perf_counter() - start < 10
