"""Which names near the cursor matter, and which definition each one means.

`rank_names` scores the identifiers around the cursor (the calls being typed first, then the
cursor line, then the lines above by distance); `definitions_near` resolves them through the
file's imports to definitions in the symbol index, best first, skipping the ambiguous ones. Both
are pure functions of the text and the index, run on every completion request.
"""

from __future__ import annotations

import builtins
import functools
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .definitions import Definition
from .grammars import language_for
from .neighbours import STOP_WORDS
from .symbols import SymbolIndex
from .windows import lines_after, lines_before

_NAME_RE = re.compile(r"(\.)?\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?")
_BUILTINS = frozenset(dir(builtins)) | frozenset(
    {"self", "cls", "console", "window", "document", "fmt", "println", "String", "Vec", "Some"}
)


@dataclass
class NameInfo:
    score: float
    qualifier: str | None
    attr_only: bool
    """Only seen as `x.name`: a method (or a module's function or class), never a bare name."""
    primary: bool
    bare_only: bool = False
    """Only seen unqualified: never a method, which needs `self.`/`this.`/a receiver."""


_BRACKET_RE = re.compile(r"[()\[\]{}]")
_TAIL_IDENT_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*$")
_QUALIFIER_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*$")
_HEAD_IDENT_RE = re.compile(r"[A-Za-z0-9_]*")
_PY_NOISE_RE = re.compile(
    r'"""[\s\S]*?(?:"""|\Z)|\'\'\'[\s\S]*?(?:\'\'\'|\Z)'
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|#[^\n]*'
)
_C_NOISE_RE = re.compile(
    r'//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`'
)
_RUST_NOISE_RE = re.compile(r'//[^\n]*|/\*[\s\S]*?(?:\*/|\Z)|"(?:[^"\\]|\\.)*"')
_KEYWORD_CALLS = frozenset({"if", "for", "while", "switch", "return", "elif", "and", "or", "not"})
_PRIMARY_SCORE = 1000.0
_LINE_SCORE = 500.0


def _blank(m: re.Match[str]) -> str:
    return " " + "\n" * m.group().count("\n")


def code_only(window: str, language: str, in_docstring: bool = False) -> str:
    """`window` with comments and string literals blanked (line breaks kept), so words of
    prose are not taken for names. `in_docstring`: the window starts inside a Python
    triple-quoted string."""
    if language == "python":
        if in_docstring:
            ends = [j for j in (window.find('"""'), window.find("'''")) if j >= 0]
            if not ends:
                return "\n" * window.count("\n")
            j = min(ends) + 3
            window = "\n" * window.count("\n", 0, j) + window[j:]
        return _PY_NOISE_RE.sub(_blank, window)
    if language == "rust":
        return _RUST_NOISE_RE.sub(_blank, window)
    return _C_NOISE_RE.sub(_blank, window)


def enclosing_calls(
    text: str, offset: int, limit: int = 3, span: int = 800
) -> list[tuple[str, str | None]]:
    """(name, qualifier) of the calls whose open argument list holds the cursor, innermost
    first: in `x = a.f(1, g(` that is `g`, then `f` (qualified by `a`)."""
    start = max(0, offset - span)
    out: list[tuple[str, str | None]] = []
    depth = 0
    for m in reversed(list(_BRACKET_RE.finditer(text, start, offset))):
        ch = m.group()
        if ch in ")]}":
            depth += 1
        elif depth > 0:
            depth -= 1
        elif ch == "(":
            head = text[max(start, m.start() - 120) : m.start()]
            name_m = _TAIL_IDENT_RE.search(head)
            if name_m is None or name_m.group(1) in _KEYWORD_CALLS:
                continue
            qual_m = _QUALIFIER_RE.search(head, 0, name_m.start())
            out.append((name_m.group(1), qual_m.group(1) if qual_m else None))
            if len(out) >= limit:
                break
    return out


def rank_names(
    text: str, offset: int, language: str, imports: Mapping[str, str] = {}
) -> dict[str, NameInfo]:
    """Names near the cursor with a score: the calls around the cursor and the word at the
    cursor first (primary), then the cursor line, then lines above by distance (calls,
    imported and capitalised names weigh more), then the few lines below."""
    ranked: dict[str, NameInfo] = {}

    def note(name: str, score: float, qualifier: str | None, attr: bool, primary: bool) -> None:
        # Stop words are lower-case keywords; `nodes.Continue(` or `If` is a class name.
        stop = name in STOP_WORDS or (name.lower() in STOP_WORDS and not name[0].isupper())
        if len(name) < 2 or name in _BUILTINS or (stop and not primary):
            if name not in imports:
                return
        old = ranked.get(name)
        if old is None:
            ranked[name] = NameInfo(score, qualifier, attr, primary, not attr)
            return
        if score > old.score:
            old.score, old.qualifier, old.primary = score, qualifier or old.qualifier, primary
        old.attr_only = old.attr_only and attr
        old.bare_only = old.bare_only and not attr

    for i, (name, qual) in enumerate(enclosing_calls(text, offset)):
        note(name, _PRIMARY_SCORE - i, qual, qual is not None, True)
    # the cursor in (or right after) the name of a call: `comp|ute(`, `compute|(`
    left = _TAIL_IDENT_RE.search(text, max(0, offset - 80), offset)
    right = _HEAD_IDENT_RE.match(text, offset)
    word = (left.group(1) if left else "") + (right.group() if right else "")
    after_word = offset + (right.end() - offset if right else 0)
    if word and not word[0].isdigit() and text[after_word : after_word + 1] == "(":
        start = left.start(1) if left else offset
        qual_m = _QUALIFIER_RE.search(text, max(0, start - 80), start)
        qual = qual_m.group(1) if qual_m else None
        note(word, _PRIMARY_SCORE + 0.5, qual, qual is not None, True)

    before = lines_before(text, offset, 40)
    after = lines_after(text, offset, 6)
    win_start = offset - len(before)
    in_doc = False
    if language == "python" and win_start > 0:
        in_doc = (text.count('"""', 0, win_start) + text.count("'''", 0, win_start)) % 2 == 1
    before_lines = code_only(before, language, in_doc).split("\n")
    after_lines = code_only(after, language).split("\n")
    last = len(before_lines) - 1
    for source, lines in ((0, before_lines), (1, after_lines)):
        for index, line in enumerate(lines):
            if source == 0:
                distance = last - index
            else:
                distance = index
            prev_end, prev_name = -1, ""
            for m in _NAME_RE.finditer(line):
                name = m.group(2)
                qualifier = None
                if m.group(1) and prev_end >= 0 and not line[prev_end : m.start()].strip():
                    qualifier = prev_name
                prev_end, prev_name = m.end(2), name
                bonus = (1.0 if m.group(3) else 0.0) + (0.5 if name[0].isupper() else 0.0)
                bonus += 1.0 if name in imports or (qualifier and qualifier in imports) else 0.0
                if distance == 0:
                    # the cursor line: before the cursor by closeness, after it a little less
                    closeness = m.start() / max(1, len(line)) if source == 0 else 0.0
                    score = _LINE_SCORE - 50.0 * source + 10.0 * bonus + closeness
                else:
                    score = 100.0 * (1.0 + bonus) / (1.0 + distance) / (1.0 + source)
                note(name, score, qualifier, bool(m.group(1)), False)
    return ranked


@functools.lru_cache(maxsize=8192)
def _path_key(path: Path) -> tuple[str, ...]:
    """Module parts of a file: directories and stem, without `__init__`/`index`/`mod`."""
    parts = path.parent.parts
    stem = path.name.split(".", 1)[0]
    if stem in ("__init__", "index", "mod", "lib", "main"):
        return tuple(parts)
    return (*parts, stem)


def _module_hints(name: str, qualifier: str | None, imports: Mapping[str, str]) -> list[str]:
    """Modules `name` may come from, per the imports: `from m import name` gives `m`;
    `q.name` with `import q` (or `from p import q`) gives `q`'s module (and `p.q`)."""
    if name in imports:
        return [imports[name]]
    if qualifier and qualifier in imports:
        module = imports[qualifier]
        sep = "::" if "::" in module else ("/" if "/" in module else ".")
        return [module + sep + qualifier, module] if not module.endswith(qualifier) else [module]
    return []


@functools.lru_cache(maxsize=4096)
def _module_target(module: str, here: Path | None) -> tuple[tuple[str, ...], bool]:
    """(parts, absolute) of a module spec: `pkg.mod`, `..mod`, `./lib/x`, `crate::a::B`,
    `github.com/u/r/pkg`. Relative specs are resolved against the importing file."""
    if module.startswith(".") and here is not None:
        if module.startswith(("./", "../")) or module in (".", ".."):
            base = os.path.normpath(os.path.join(str(here.parent), module))
            parts = Path(base).parts
            if parts and parts[-1].split(".", 1)[0] in ("index", "__init__", "mod"):
                parts = parts[:-1]
            elif parts and "." in parts[-1]:
                parts = (*parts[:-1], parts[-1].split(".", 1)[0])
            return tuple(parts), True
        dots = len(module) - len(module.lstrip("."))
        base_dir = here.parent
        for _ in range(dots - 1):
            base_dir = base_dir.parent
        rest = [p for p in module[dots:].split(".") if p]
        return (*base_dir.parts, *rest), True
    if here is not None and module.split("::", 1)[0] in ("crate", "super", "self"):
        return _rust_module(module.split("::"), here), True
    names = re.split(r"::|[./]", module)
    return tuple(p for p in names if p and p not in ("crate", "self", "super")), False


def _rust_module(path: list[str], here: Path) -> tuple[str, ...]:
    """Directory parts (as `_path_key` gives them) of a Rust `crate::`/`super::`/`self::` path
    used in `here`: the crate root is the nearest `src` directory (Cargo's layout), `self` the
    file's own module (`a/b.rs` is `a::b`, `a/mod.rs` is `a`), each `super` one level up."""
    dirs = list(here.parent.parts)
    if path[0] == "crate":
        root = max((i for i, part in enumerate(dirs) if part == "src"), default=len(dirs) - 1)
        return (*dirs[: root + 1], *path[1:])
    stem = here.name.split(".", 1)[0]
    current = dirs if stem in ("mod", "lib", "main") else [*dirs, stem]
    k = 0
    if path[0] == "self":
        k = 1
    while k < len(path) and path[k] == "super":
        current = current[:-1]
        k += 1
    return (*current, *path[k:])


_TYPE_OF = (
    # `self._live = Live(`, `this.client = new Client(`, `x := Foo{`, `let x = Foo::new(`
    r"\b{q}\s*(?::\s*[\w.\[\], ]+)?\s*:?=\s*(?:new\s+|await\s+|&)?([A-Z]\w*)(?:::new)?\s*[({{]",
    # `url: URL`, `x: &mut Foo`, `url: httpx.URL`
    r"\b{q}\s*\??:\s*&?(?:mut\s+)?(?:[a-z_]\w*\.)*([A-Z]\w*)\b",
    # Go parameters and fields: `c *Client`, `c Client`
    r"\b{q}\s+\*?([A-Z]\w*)\b",
)


def receiver_type(text: str, offset: int, qualifier: str) -> str | None:
    """The class of `qualifier` in `qualifier.method(`, from the nearest assignment from a
    constructor or type annotation above the cursor; None when the text does not say."""
    if not qualifier or qualifier in ("self", "this", "cls"):
        return None
    window = text[max(0, offset - 20000) : offset]
    best: tuple[int, str] | None = None
    for pattern in _TYPE_OF:
        for m in re.finditer(pattern.format(q=re.escape(qualifier)), window):
            if best is None or m.start() > best[0]:
                best = (m.start(), m.group(1))
    return best[1] if best else None


def _def_rank(
    d: Definition,
    here: Path | None,
    here_dir: tuple[str, ...],
    targets: Sequence[tuple[tuple[str, ...], bool]],
) -> tuple[int, int, int, int, str]:
    """Sort key of a definition (smaller is better): does its file match the module the name
    is imported from (0 exactly, also a package re-exporting it; 1 by the last part), is it
    the current file, how many directories it shares with the current file, path depth."""
    key = _path_key(d.path)
    module = 2
    for parts, absolute in targets:
        if not parts:
            continue
        n = len(parts)
        if absolute:
            if key == parts or key[:-1] == parts:
                module = 0
                break
        elif key[-n:] == parts or key[:-1][-n:] == parts:
            module = 0
            break
        if module == 2 and parts[-1] in key[-2:]:
            module = 1
    common = 0
    for a, b in zip(d.path.parent.parts, here_dir, strict=False):
        if a != b:
            break
        common += 1
    same_file = 0 if d.path == here else 1
    return (module, same_file, -common, len(d.path.parts), str(d.path))


def signature_line(d: Definition) -> int:
    """Line of `d`'s name (its signature), below leading comments and decorators."""
    at = d.text.find(d.name)
    return d.start_line + (d.text.count("\n", 0, at) if at > 0 else 0)


def definitions_near(
    index: SymbolIndex,
    path: Path | None,
    text: str,
    offset: int,
    language_id: str,
    visible: tuple[int, int] = (0, -1),
) -> Iterator[tuple[Definition, float, bool]]:
    """Definitions of names used near the cursor, best first: (definition, score, primary).

    Names are ranked by proximity (`rank_names`): the call being typed first, then the
    cursor line, then the lines above (and a few below) by distance. Each name resolves
    through the file's imports to the module it comes from, then to the same file, then
    to the nearest directory. Definitions of the current file are used only when their
    signature line is not in `visible` (the lines the prefix and suffix surely show).
    `primary` marks the calls around the cursor, shown with their body.
    """
    if len(index) == 0:
        return
    own = index.file(path) if path is not None else None
    imports = own.imports if own is not None else {}
    language = language_for(path or "", language_id) or language_id
    ranked = rank_names(text, offset, language, imports)
    seen: set[tuple[Path, int]] = set()
    here_dir = path.parent.parts if path is not None else ()
    for name in sorted(ranked, key=lambda n: (-ranked[n].score, n)):
        info = ranked[name]
        defs = index.lookup(name)
        if not defs:
            continue
        hints = _module_hints(name, info.qualifier, imports)
        if len(defs) > 64 and not hints:
            continue  # `__init__`, `get`, ...: hopeless without a module to resolve to
        if info.attr_only and not hints and not name[0].isupper():
            defs = [d for d in defs if d.kind in ("method", "function")]
            owner = receiver_type(text, offset, info.qualifier or "")
            if owner is not None and any(d.container == owner for d in defs):
                defs = [d for d in defs if d.container == owner]
        elif info.bare_only:
            defs = [d for d in defs if d.kind != "method"]
        if not defs:
            continue
        targets = [_module_target(h, path) for h in hints]
        ranks = [(_def_rank(d, path, here_dir, targets), d) for d in defs]
        rank, best = min(ranks, key=lambda r: r[0])
        if targets and rank[0] == 2:
            continue  # imported from a module outside the index: any match would be wrong
        if len(defs) > 4 and rank[0] != 0 and rank[1] != 0 and rank[2] > -len(here_dir):
            continue  # too ambiguous (`get`, `run`, ...) to be worth the tokens
        if best.path == path and visible[0] <= signature_line(best) <= visible[1]:
            continue  # the model sees it in the prefix or suffix already
        key = (best.path, best.start_line)
        if key in seen:
            continue
        seen.add(key)
        yield best, round(info.score, 3), info.primary
