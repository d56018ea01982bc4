"""Symbol index per language, imported names, files only on disk, incremental updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from lsp_server.context.definitions import compact_text, extract
from lsp_server.context.symbols import SymbolIndex
from lsp_server.privacy.policy import PrivacyGuard

PY = '''import os
from .util import helper as h, other
import numpy as np

MAX_SIZE = 10

@dataclass
class Point(Base):
    """A point."""
    x: int = 0
    def norm(self) -> float:
        """Length."""
        return 0.0

# adds
def add(a: int, b: int) -> int:
    """Add."""
    return a + b
'''
TS = """import { foo, bar as baz } from "./lib";
import * as path from "path";
/** Adds. */
export function add(a: number, b: number): number { return a + b; }
export const mul = (a: number, b: number) => a * b;
export interface Shape { area(): number; name: string }
type Id = string | number;
export default class Circle implements Shape {
  constructor(private r: number) {}
  area(): number { return 3.14 * this.r ** 2; }
}
enum Color { Red, Green }
const LIMIT = 5;
"""
GO = """package main
import (
  "fmt"
  str "strings"
)
// Point is a point.
type Point struct { X, Y int }
type Shape interface { Area() float64 }
const Pi = 3.14
// Add adds.
func Add(a, b int) int { return a + b }
func (p *Point) Norm() float64 { return 0 }
"""
RS = """use std::collections::HashMap;
use crate::util::{helper, Other as O};
/// A point.
#[derive(Debug)]
pub struct Point { x: i32 }
pub trait Shape { fn area(&self) -> f64; }
impl Point {
    pub fn new(x: i32) -> Self { Point { x } }
}
pub fn add(a: i32, b: i32) -> i32 { a + b }
const MAX: u32 = 3;
"""


def kinds(text: str, lang: str, suffix: str) -> dict[str, str]:
    result = extract(Path("/w/f" + suffix), text, lang)
    return {
        f"{d.container + '.' if d.container else ''}{d.name}": d.kind for d in result.definitions
    }


def test_python() -> None:
    assert kinds(PY, "python", ".py") == {
        "MAX_SIZE": "const",
        "Point": "class",
        "Point.norm": "method",
        "add": "function",
    }
    r = extract(Path("/w/f.py"), PY, "python")
    assert r.imports == {"os": "os", "h": ".util", "other": ".util", "np": "numpy"}
    point = next(d for d in r.definitions if d.name == "Point")
    assert point.text.startswith("@dataclass\nclass Point(Base):")
    assert point.text.count('"""A point."""') == 1 and "def norm(self) -> float:" in point.text
    add = next(d for d in r.definitions if d.name == "add")
    assert add.text.startswith("# adds\ndef add") and add.start_line == 14


def test_typescript_and_tsx() -> None:
    assert kinds(TS, "typescript", ".ts") == {
        "add": "function",
        "mul": "function",
        "Shape": "interface",
        "Id": "type",
        "Circle": "class",
        "Circle.constructor": "method",
        "Circle.area": "method",
        "Color": "enum",
        "LIMIT": "const",
    }
    r = extract(Path("/w/f.ts"), TS, "typescript")
    assert r.imports == {"foo": "./lib", "baz": "./lib", "path": "path"}
    assert next(d for d in r.definitions if d.name == "add").text.startswith("/** Adds. */")
    tsx = "export function App(): JSX.Element { return <div/>; }\n"
    assert kinds(tsx, "tsx", ".tsx") == {"App": "function"}
    assert kinds("function f() {}\nclass A { m() {} }\n", "javascript", ".js") == {
        "f": "function",
        "A": "class",
        "A.m": "method",
    }


def test_go() -> None:
    assert kinds(GO, "go", ".go") == {
        "Point": "struct",
        "Shape": "interface",
        "Pi": "const",
        "Add": "function",
        "Point.Norm": "method",
    }
    assert extract(Path("/w/f.go"), GO, "go").imports == {"fmt": "fmt", "str": "strings"}


def test_rust() -> None:
    assert kinds(RS, "rust", ".rs") == {
        "Point": "struct",
        "Shape": "trait",
        "Shape.area": "method",
        "Point.new": "method",
        "add": "function",
        "MAX": "const",
    }
    r = extract(Path("/w/f.rs"), RS, "rust")
    assert r.imports["HashMap"] == "std::collections" and r.imports["O"] == "crate::util::Other"
    assert r.definitions[0].text.startswith("/// A point.\n#[derive(Debug)]")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "util.py").write_text("def parse_config(path):\n    return {}\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "api.ts").write_text("export function fetchUser(id: string) {}\n")
    (tmp_path / "node_modules" / "dep").mkdir(parents=True)
    (tmp_path / "node_modules" / "dep" / "index.js").write_text("function hidden() {}\n")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "x.py").write_text("def venv_thing(): pass\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text("def generated(): pass\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "p.py").write_text("def private_thing(): pass\n")
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / ".devstralignore").write_text("private/\n")
    (tmp_path / "big.py").write_text("def big(): pass\n" + "#" * 10_000)
    return tmp_path


def test_build_respects_ignores_and_limits(workspace: Path) -> None:
    index = SymbolIndex(PrivacyGuard([workspace]), max_file_bytes=5_000)
    stats = index.build([workspace])
    assert stats.complete and stats.files == 2
    assert [d.path.name for d in index.lookup("parse_config")] == ["util.py"]
    assert index.lookup("fetchUser")
    for name in ("hidden", "venv_thing", "generated", "private_thing", "big"):
        assert index.lookup(name) == [], name


def test_incremental_update_and_delete(workspace: Path) -> None:
    index = SymbolIndex(PrivacyGuard([workspace]))
    index.build([workspace])
    util = workspace / "pkg" / "util.py"
    index.update(util, "def load_config(path):\n    return {}\n")  # unsaved buffer text
    assert index.lookup("parse_config") == [] and index.lookup("load_config")
    index.update(util)  # back to the disk version
    assert index.lookup("parse_config") and not index.lookup("load_config")
    util.unlink()
    index.remove(util)
    assert index.lookup("parse_config") == []
    assert index.update(workspace / "notes.txt", "whatever") is None


def test_compact_text_keeps_signature_and_docs_only() -> None:
    src = (
        "# lead\n@deco\ndef f(a,\n      b) -> int:\n"
        '    """Doc."""\n    x = a\n    return x + b\n'
        "class C:\n    def m(self):\n        return 1\n"
    )
    defs = {d.name: d for d in extract(Path("/w/f.py"), src, "python").definitions}
    assert compact_text(defs["f"]) == (
        '# lead\n@deco\ndef f(a,\n      b) -> int:\n    """Doc."""\n    ...'
    )
    assert compact_text(defs["m"]) == "    def m(self):\n        ..."
    assert compact_text(defs["C"]) == defs["C"].text  # classes are outlines already
    go = "package p\n// Add adds.\nfunc Add(a, b int) int { return a + b }\n"
    add = extract(Path("/w/f.go"), go, "go").definitions[0]
    assert compact_text(add) == "// Add adds.\nfunc Add(a, b int) int { ... }"
