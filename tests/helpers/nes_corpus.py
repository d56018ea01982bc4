"""The next-edit corpus: edit scenarios and the ways a chat model answers them.

Each scenario is a file, the edit the user just made (`old` -> `new`, a unique substring) and
the file after the follow-up edit the user wants suggested (`final`). A scripted "model"
(`scripted_reply`) reads the marked region from the request the server sent, works out the
intended rewrite of that region from `final`, and answers in one of the `STYLES` real models
use. The server must turn every answer into exactly the edits between the edited file and
`final`. Used by tests/unit/test_nes_core.py, tests/e2e/test_next_edit.py and
bench/bench_next_edit.py.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass

from lsp_server.nes.prompt import CURSOR, REGION_END, REGION_START


@dataclass(frozen=True)
class Scenario:
    name: str
    language: str
    ext: str
    before: str
    old: str
    new: str
    final: str

    @property
    def edited(self) -> str:
        assert self.before.count(self.old) == 1, self.name
        return self.before.replace(self.old, self.new)

    @property
    def edit_start(self) -> int:
        return self.before.index(self.old)

    @property
    def cursor(self) -> int:
        """Offset in `edited` right after what the user typed."""
        return self.edit_start + len(self.new)


def _sc(name: str, language: str, ext: str, before: str, old: str, new: str,
        final_pairs: list[tuple[str, str]]) -> Scenario:
    """`final` = the edited file with each (a, b) of `final_pairs` replaced once, in order."""
    final = before.replace(old, new)
    for a, b in final_pairs:
        assert final.count(a) >= 1, (name, a)
        final = final.replace(a, b)
    return Scenario(name, language, ext, before, old, new, final)


PY_RENAME = '''# scaling helpers
# (pure functions)
def scale(values, factor):
    result = []
    for v in values:
        result.append(v * factor)
    return result
'''
PY_FIELD = '''class User:
    # a registered user
    def __init__(self, name: str, age: int) -> None:
        self.name = name
        self.age = age

    def greeting(self) -> str:
        return f"Hello {self.name}"
'''
PY_SIGNATURE = '''# geometry helpers
# (metres)
def area(width, height):
    return width * height


def total(rooms):
    return sum(area(w, h) for w, h in rooms)


print(area(2, 3))
'''
PY_TYPO = '''# messages
# (shown to users)
SAVED = "Changes were recieved"
SENT = "Message sent"
QUEUED = "Request recieved and queued"
'''
PY_TEST = '''# discount rules
# (percent)
def discount(price):
    return price * 0.9


def test_discount():
    assert discount(100) == 90
'''

TS_RENAME = '''// string helpers
// (pure functions)
export function pad(text: string, width: number): string {
  if (text.length >= width) {
    return text;
  }
  return text + " ".repeat(width - text.length);
}

export function trim(text: string): string {
  return text.trim();
}
'''
TS_FIELD = '''class Point {
  // coordinates
  x: number;
  y: number;

  constructor(x: number, y: number) {
    this.x = x;
    this.y = y;
  }
}
'''
TS_SIGNATURE = '''// formatting
// (prices)
function price(amount: number): string {
  return amount.toFixed(2);
}

const a = price(3);
const b = price(4.5);

export const currencies = ["EUR", "USD"];
'''
TS_TYPO = '''// messages
// (shown to users)
export const saved = "Changes were recieved";
export const sent = "Message sent";
export const queued = "Request recieved and queued";
'''
TS_TEST = '''// tax rules
// (flat rate)
export function tax(amount: number): number {
  return amount * 0.2;
}

test("tax", () => {
  expect(tax(100)).toBe(20);
});
'''

GO_RENAME = '''package geo

// Scale helpers
// (pure functions)
func Scale(values []float64, factor float64) []float64 {
\tout := make([]float64, len(values))
\tfor i, v := range values {
\t\tout[i] = v * factor
\t}
\treturn out
}
'''
GO_FIELD = '''package users

// User is a registered user.
type User struct {
\t// identity
\tName string
\tAge  int
}

// NewUser builds a User.
func NewUser(name string, age int) *User {
\treturn &User{Name: name, Age: age}
}
'''
GO_SIGNATURE = '''package shop

// Price helpers
// (cents)
func Total(items []int) int {
\tsum := 0
\tfor _, c := range items {
\t\tsum += c
\t}
\treturn sum
}

func Report() int {
\treturn Total([]int{1, 2})
}

var daily = Total(nil)
'''
GO_TYPO = '''package msg

// Messages shown to users
// (keep short)
const Saved = "Changes were recieved"
const Sent = "Message sent"
const Queued = "Request recieved and queued"
'''
GO_TEST = '''package tax

// Tax rules
// (flat rate)
func Tax(amount int) int {
\treturn amount * 20 / 100
}

func TestTax(t *testing.T) {
\tif got := Tax(100); got != 20 {
\t\tt.Fatalf("got %d", got)
\t}
}
'''

RS_RENAME = '''// Scale helpers
// (pure functions)
pub fn scale(values: &[f64], factor: f64) -> Vec<f64> {
    values.iter().map(|v| v * factor).collect()
}

pub fn name() -> &'static str {
    "scale"
}
'''
RS_FIELD = '''#[derive(Debug)]
pub struct Point {
    // screen coordinates
    pub x: i32,
    pub y: i32,
}

impl Point {
    pub fn new(x: i32, y: i32) -> Self {
        Point { x, y }
    }
}
'''
RS_SIGNATURE = '''// Price helpers
// (cents)
fn total(items: &[u32]) -> u32 {
    items.iter().sum()
}

fn report() -> u32 {
    total(&[1, 2])
}

fn daily() -> u32 {
    total(&[])
}
'''
RS_TYPO = '''// Messages shown to users
// (keep short)
pub const SAVED: &str = "Changes were recieved";
pub const SENT: &str = "Message sent";
pub const QUEUED: &str = "Request recieved and queued";
'''
RS_TEST = '''// Tax rules
// (flat rate)
pub fn tax(amount: u32) -> u32 {
    amount * 20 / 100
}

#[test]
fn test_tax() {
    assert_eq!(tax(100), 20);
}
'''

SCENARIOS: list[Scenario] = [
    _sc("py-rename-parameter", "python", "py", PY_RENAME, "factor):", "ratio):",
        [("v * factor", "v * ratio")]),
    _sc("py-add-field", "python", "py", PY_FIELD, "age: int)", "age: int, email: str)",
        [("        self.age = age\n", "        self.age = age\n        self.email = email\n")]),
    _sc("py-change-signature", "python", "py", PY_SIGNATURE, "width, height):",
        "width, height, scale):",
        [("width * height\n", "width * height * scale\n"), ("area(w, h)", "area(w, h, 1)"),
         ("area(2, 3)", "area(2, 3, 1)")]),
    _sc("py-same-typo-twice", "python", "py", PY_TYPO, "were recieved", "were received",
        [("Request recieved", "Request received")]),
    _sc("py-test-expected-value", "python", "py", PY_TEST, "0.9", "0.8",
        [("== 90", "== 80")]),
    _sc("ts-rename-parameter", "typescript", "ts", TS_RENAME, "width: number", "size: number",
        [(">= width", ">= size"), ("(width -", "(size -")]),
    _sc("ts-add-field", "typescript", "ts", TS_FIELD, "  y: number;", "  y: number;\n  z: number;",
        [("y: number) {", "y: number, z: number) {"),
         ("    this.y = y;\n", "    this.y = y;\n    this.z = z;\n")]),
    _sc("ts-change-signature", "typescript", "ts", TS_SIGNATURE, "amount: number)",
        "amount: number, currency: string)",
        [("return amount", "return currency + amount"), ("price(3)", 'price(3, "EUR")'),
         ("price(4.5)", 'price(4.5, "EUR")')]),
    _sc("ts-same-typo-twice", "typescript", "ts", TS_TYPO, "were recieved", "were received",
        [("Request recieved", "Request received")]),
    _sc("ts-test-expected-value", "typescript", "ts", TS_TEST, "0.2;", "0.25;",
        [("toBe(20)", "toBe(25)")]),
    _sc("go-rename-parameter", "go", "go", GO_RENAME, "factor float64", "ratio float64",
        [("v * factor", "v * ratio")]),
    _sc("go-add-field", "go", "go", GO_FIELD, "\tAge  int", "\tAge  int\n\tEmail string",
        [("age int) *User", "age int, email string) *User"),
         ("Age: age}", "Age: age, Email: email}")]),
    _sc("go-change-signature", "go", "go", GO_SIGNATURE, "(items []int) int",
        "(items []int, tax int) int",
        [("return sum\n", "return sum + tax\n"), ("{1, 2})", "{1, 2}, 0)"),
         ("Total(nil)", "Total(nil, 0)")]),
    _sc("go-same-typo-twice", "go", "go", GO_TYPO, "were recieved", "were received",
        [("Request recieved", "Request received")]),
    _sc("go-test-expected-value", "go", "go", GO_TEST, "amount * 20", "amount * 25",
        [("got != 20", "got != 25")]),
    _sc("rs-rename-parameter", "rust", "rs", RS_RENAME, "factor: f64", "ratio: f64",
        [("v * factor", "v * ratio")]),
    _sc("rs-add-field", "rust", "rs", RS_FIELD, "    pub y: i32,",
        "    pub y: i32,\n    pub z: i32,",
        [("y: i32) -> Self", "y: i32, z: i32) -> Self"), ("Point { x, y }", "Point { x, y, z }")]),
    _sc("rs-change-signature", "rust", "rs", RS_SIGNATURE, "items: &[u32])",
        "items: &[u32], tax: u32)",
        [("items.iter().sum()", "items.iter().sum::<u32>() + tax"),
         ("total(&[1, 2])", "total(&[1, 2], 0)"), ("total(&[])", "total(&[], 0)")]),
    _sc("rs-same-typo-twice", "rust", "rs", RS_TYPO, "were recieved", "were received",
        [("Request recieved", "Request received")]),
    _sc("rs-test-expected-value", "rust", "rs", RS_TEST, "amount * 20", "amount * 25",
        [("tax(100), 20)", "tax(100), 25)")]),
]

STYLES = ["exact", "echoed-markers", "fenced", "drifted-indentation", "unrelated-changes"]

_MARKED = re.compile(re.escape(REGION_START) + r"\n(.*?)" + re.escape(REGION_END), re.S)


def marked_region(user_message: str) -> str:
    """The editable region the request showed (cursor marker included)."""
    m = _MARKED.search(user_message)
    assert m, "the request holds no marked region"
    return m.group(1)


def intended_rewrite(sc: Scenario, region: str) -> str:
    """`region` (a piece of `sc.edited`) as it reads in `sc.final`."""
    text, final = sc.edited, sc.final
    start = text.find(region)
    assert start >= 0 and text.find(region, start + 1) < 0, "region not unique in the file"
    end = start + len(region)
    tail = len(text) - end
    assert final[:start] == text[:start], "an intended change lies above the region"
    assert final[len(final) - tail:] == text[end:], "an intended change lies below the region"
    return final[start:len(final) - tail]


def _comment(language: str) -> str:
    return "#" if language == "python" else "//"


def _changed_lines(region: str, ideal: str) -> tuple[set[int], dict[int, int]]:
    a, b = region.split("\n"), ideal.split("\n")
    changed: set[int] = set()
    mapping: dict[int, int] = {}
    for tag, i1, i2, j1, _ in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                mapping[i1 + k] = j1 + k
        else:
            changed.update(range(i1, max(i2, i1 + 1)))
    return changed, mapping


def unrelated_changes(sc: Scenario, region: str, ideal: str) -> str:
    """`ideal` plus what chat models add on their own: a reworded comment and trailing
    whitespace, on lines at least two away from the intended changes and each other."""
    changed, mapping = _changed_lines(region, ideal)
    lines = region.split("\n")
    prefix = _comment(sc.language)

    def far(i: int, others: set[int]) -> bool:
        return all(abs(i - j) >= 2 for j in others)

    comment = next(i for i, x in enumerate(lines) if x.strip().startswith(prefix)
                   and i in mapping and far(i, changed))
    code = next(i for i, x in enumerate(lines[:-1]) if not x.strip().startswith(prefix)
                and i in mapping and far(i, changed | {comment}))
    out = ideal.split("\n")
    out[mapping[comment]] += " (kept in sync)"
    out[mapping[code]] += "   "
    return "\n".join(out)


def styled(sc: Scenario, style: str, region_with_cursor: str) -> str:
    """The answer a model gives in `style` for the region the request showed."""
    region = region_with_cursor.replace(CURSOR, "")
    ideal = intended_rewrite(sc, region)
    if style == "exact":
        return ideal
    if style == "echoed-markers":
        cursor_at = region_with_cursor.index(CURSOR)
        return f"{REGION_START}\n{ideal[:cursor_at]}{CURSOR}{ideal[cursor_at:]}{REGION_END}\n"
    if style == "fenced":
        return f"Here is the updated region:\n\n```{sc.language}\n{ideal}```\n"
    if style == "drifted-indentation":
        rows = ideal.split("\n")
        indents = [len(x) - len(x.lstrip(" \t")) for x in rows if x.strip()]
        least = min(indents)
        if least:
            return "\n".join(x[least:] for x in rows)
        return "\n".join("    " + x if x.strip() else x for x in rows)
    if style == "unrelated-changes":
        return unrelated_changes(sc, region, ideal)
    raise ValueError(style)


def scripted(sc: Scenario, style: str, user_message_of: Callable[[object], str]
             ) -> Callable[[object], str]:
    """A reply function for the fake backend (the request -> the answer's text)."""
    def reply(request: object) -> str:
        return styled(sc, style, marked_region(user_message_of(request)))
    return reply


def region_reply(content: str, old: str, new: str) -> str:
    """What a model answers to a next-edit request whose last message is `content`: the marked
    region with `old` replaced by `new` ("" when the request is not a next-edit one)."""
    if REGION_START not in content:
        return ""
    return marked_region(content).replace(CURSOR, "").replace(old, new)
