"""Definitions of one source file, read from its tree-sitter syntax tree.

A call to a function defined in another file is guessed blind unless its definition is in the
prompt, so every definition (functions, classes, methods, structs, interfaces, types, consts) of
Python, JavaScript, TypeScript/TSX, Go and Rust files is summarised for the model: signature,
docstring or leading comments, a short body (`Definition.text`), with the signature's length
kept so a tight budget can show the signature alone (`compact_text`). The import map of the file
lets name resolution (`names.py`) prefer the module a name was imported from.

Only top-level statements and class/impl/trait/module bodies are visited, never function
bodies, so the cost is proportional to the number of definitions rather than to the size of
the syntax tree. This module is pure (one file in, its symbols out); keeping the workspace's
index of them is `symbols.py`'s job, choosing the grammar `grammars.py`'s.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .grammars import parser_for

if TYPE_CHECKING:
    from tree_sitter import Node

MAX_DEF_LINES = 20
MAX_DOC_LINES = 8
MAX_CLASS_MEMBERS = 24

_COMMENT_TYPES = frozenset({"comment", "line_comment", "block_comment"})
_PREFIX_TYPES = _COMMENT_TYPES | {"attribute_item", "decorator"}


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    kind: str
    path: Path
    start_line: int
    end_line: int
    text: str
    """Summary shown to the model: leading comments, signature, docstring, short body."""
    container: str | None = None
    sig_len: int = 0
    """Length of the head of `text` that is the signature (with leading comments, decorators
    and the docstring) of a function or method; 0 when there is no shorter form."""


def compact_text(d: Definition) -> str:
    """`d.text` with the body replaced by an ellipsis (signature and docs only)."""
    if d.sig_len <= 0 or d.sig_len >= len(d.text):
        return d.text
    head = d.text[: d.sig_len].rstrip()
    if d.path.suffix in (".py", ".pyi"):
        sig_line = next((x for x in head.split("\n") if d.name in x), "")
        indent = len(sig_line) - len(sig_line.lstrip())
        return head + "\n" + " " * (indent + 4) + "..."
    return head + " { ... }"


@dataclass
class FileSymbols:
    path: Path
    language: str
    definitions: list[Definition] = field(default_factory=list)
    imports: dict[str, str] = field(default_factory=dict)
    """Local name -> module it comes from (as written in the import)."""
    mtime: float = 0.0


class _Extractor:
    """Turns one syntax tree into `Definition`s and an import map."""

    def __init__(self, path: Path, language: str, source: bytes) -> None:
        self.path = path
        self.language = language
        self.src = source
        self.defs: list[Definition] = []
        self.imports: dict[str, str] = {}
        self.sig_len = 0
        """Set by `function_summary` for the `add` that follows it."""

    # -- helpers
    def text(self, node: Node | None) -> str:
        if node is None:
            return ""
        return self.src[node.start_byte : node.end_byte].decode("utf-8", errors="replace")

    def name_of(self, node: Node, fieldname: str = "name") -> str:
        return self.text(node.child_by_field_name(fieldname))

    def lead_start(self, node: Node) -> Node:
        """First of the comments/attributes/decorators directly above `node`."""
        first = node
        prev = node.prev_sibling
        while (
            prev is not None
            and prev.type in _PREFIX_TYPES
            and first.start_point[0] - prev.end_point[0] <= 1
        ):
            first = prev
            prev = prev.prev_sibling
        return first

    def add(
        self,
        name: str,
        kind: str,
        node: Node,
        summary: str,
        container: str | None = None,
        lead: Node | None = None,
    ) -> None:
        sig_len, self.sig_len = self.sig_len, 0
        if not name:
            return
        start = lead if lead is not None else self.lead_start(node)
        head = ""
        if start is not node:
            head = _short_lead(
                self.src[start.start_byte : node.start_byte].decode("utf-8", errors="replace"))
        indent = " " * start.start_point[1]
        text = indent + head + summary
        if sig_len and kind in ("function", "method"):
            sig_len += len(indent) + len(head)
        else:
            sig_len = 0
        self.defs.append(
            Definition(
                name=name,
                kind=kind,
                path=self.path,
                start_line=start.start_point[0],
                end_line=node.end_point[0],
                text=_clip_lines(text, MAX_DEF_LINES + MAX_DOC_LINES),
                container=container,
                sig_len=sig_len if sig_len < len(text) else 0,
            )
        )

    def header(self, node: Node, body: Node | None) -> str:
        """Source from the start of `node` up to its body (the signature)."""
        if body is None:
            return self.text(node)
        return self.src[node.start_byte : body.start_byte].decode("utf-8", errors="replace")

    def function_summary(self, node: Node, body: Node | None, ellipsis: str) -> str:
        self.sig_len = 0
        if body is not None:
            end = body.start_byte
            first = body.named_children[0] if body.named_children else None
            if (
                self.language == "python"
                and first is not None
                and first.type == "expression_statement"
                and first.named_children
                and first.named_children[0].type == "string"
                and first.end_point[0] - first.start_point[0] < MAX_DOC_LINES
            ):
                end = first.end_byte
            self.sig_len = len(self.src[node.start_byte : end].decode("utf-8", errors="replace"))
        full = self.text(node)
        if body is None or full.count("\n") < MAX_DEF_LINES:
            return full
        head = self.header(node, body)
        lines = self.text(body).splitlines()
        keep = lines[: max(3, MAX_DEF_LINES - head.count("\n") - 1)]
        indent = " " * (node.start_point[1] + 4)
        return head + "\n".join(keep) + "\n" + indent + ellipsis

    @staticmethod
    def member_indent(member: Node, owner: Node, base: int, step: int) -> str:
        """Members on their own line keep their column; one-liners get `base + step`."""
        if member.start_point[0] != owner.start_point[0]:
            return " " * member.start_point[1]
        return " " * (base + step)

    def clipped(self, node: Node) -> str:
        return _clip_lines(self.text(node), MAX_DEF_LINES)

    # -- entry
    def run(self, root: Node) -> None:
        visit = getattr(self, f"visit_{self.language if self.language != 'tsx' else 'typescript'}")
        visit(root, None, 0)

    # -- Python
    def visit_python(self, node: Node, container: str | None, depth: int) -> None:
        for child in node.named_children:
            t = child.type
            if t == "decorated_definition":
                inner = child.child_by_field_name("definition")
                if inner is not None:
                    self.python_def(inner, container, depth, lead=self.lead_start(child))
            elif t in ("function_definition", "class_definition"):
                self.python_def(child, container, depth, lead=None)
            elif t in ("import_statement", "import_from_statement") and depth == 0:
                self.python_import(child)
            elif t == "expression_statement" and container is None and depth == 0:
                assign = child.named_children[0] if child.named_children else None
                if assign is not None and assign.type == "assignment":
                    left = assign.child_by_field_name("left")
                    name = self.text(left)
                    if left is not None and left.type == "identifier" and name.isupper():
                        self.add(name, "const", child, self.clipped(child))
            elif t in ("if_statement", "try_statement", "else_clause", "block") and depth < 2:
                self.visit_python(child, container, depth + 1)
            elif t in ("elif_clause", "except_clause", "finally_clause") and depth < 2:
                self.visit_python(child, container, depth + 1)

    def python_doc(self, body: Node | None) -> str:
        if body is None or not body.named_children:
            return ""
        first = body.named_children[0]
        if first.type == "expression_statement" and first.named_children:
            if first.named_children[0].type == "string":
                indent = " " * first.start_point[1]
                return indent + _clip_lines(self.text(first), MAX_DOC_LINES) + "\n"
        return ""

    def python_def(self, node: Node, container: str | None, depth: int, lead: Node | None) -> None:
        name = self.name_of(node)
        body = node.child_by_field_name("body")
        if node.type == "function_definition":
            kind = "method" if container else "function"
            self.add(name, kind, node, self.function_summary(node, body, "..."), container, lead)
            return
        # class: header, docstring, member signatures
        head = self.header(node, body).rstrip()
        parts = [head + "\n", self.python_doc(body)]
        members = 0
        if body is not None:
            for index, child in enumerate(body.named_children):
                if index == 0 and parts[1]:
                    continue  # the docstring, already shown
                inner = child
                if child.type == "decorated_definition":
                    inner = child.child_by_field_name("definition") or child
                if inner.type == "function_definition":
                    sig = self.header(inner, inner.child_by_field_name("body")).rstrip()
                    start = child.start_point[1]
                    deco = self.src[child.start_byte : inner.start_byte].decode(
                        "utf-8", errors="replace"
                    )
                    doc = self.python_doc(inner.child_by_field_name("body")).strip()
                    line = " " * start + deco + sig + " ..."
                    if doc and "\n" not in doc:
                        line = " " * start + deco + sig + "\n" + " " * (start + 4) + doc
                    parts.append(line + "\n")
                    members += 1
                elif child.type == "expression_statement" and members < MAX_CLASS_MEMBERS:
                    parts.append(
                        " " * child.start_point[1] + self.text(child).split("\n")[0] + "\n"
                    )
                    members += 1
                if members >= MAX_CLASS_MEMBERS:
                    parts.append(" " * (node.start_point[1] + 4) + "...\n")
                    break
        self.add(name, "class", node, "".join(parts).rstrip("\n"), container, lead)
        if body is not None and depth < 3:
            self.visit_python(body, name, depth + 1)

    def python_import(self, node: Node) -> None:
        if node.type == "import_statement":
            for child in node.named_children:
                if child.type == "dotted_name":
                    dotted = self.text(child)
                    self.imports[dotted.split(".")[0]] = dotted
                elif child.type == "aliased_import":
                    self.imports[self.name_of(child, "alias")] = self.name_of(child, "name")
            return
        module = self.name_of(node, "module_name")
        for child in node.named_children:
            if child == node.child_by_field_name("module_name"):
                continue
            if child.type == "dotted_name":
                self.imports[self.text(child).split(".")[-1]] = module
            elif child.type == "aliased_import":
                self.imports[self.name_of(child, "alias")] = module

    # -- JavaScript / TypeScript
    def visit_javascript(self, node: Node, container: str | None, depth: int) -> None:
        self.visit_typescript(node, container, depth)

    def visit_typescript(self, node: Node, container: str | None, depth: int) -> None:
        for child in node.named_children:
            self.ts_statement(child, child, container, depth)

    def ts_statement(self, child: Node, lead_node: Node, container: str | None, depth: int) -> None:
        t = child.type
        lead = self.lead_start(lead_node)
        if t == "export_statement":
            decl = child.child_by_field_name("declaration")
            if decl is None:
                for sub in child.named_children:
                    if sub.type.endswith(("declaration", "definition")):
                        decl = sub
            if decl is not None:
                self.ts_statement(decl, child, container, depth)
        elif t in ("function_declaration", "generator_function_declaration", "function_signature"):
            body = child.child_by_field_name("body")
            text = self.function_summary(child, body, "// ...")
            self.add(self.name_of(child), "function", child, text, container, lead)
        elif t in ("class_declaration", "abstract_class_declaration", "class"):
            self.ts_class(child, lead, container)
        elif t in ("interface_declaration", "type_alias_declaration", "enum_declaration"):
            kind = {"interface_declaration": "interface", "enum_declaration": "enum"}.get(t, "type")
            self.add(self.name_of(child), kind, child, self.clipped(child), container, lead)
        elif t in ("lexical_declaration", "variable_declaration"):
            is_const = self.text(child).startswith("const")
            for decl in child.named_children:
                if decl.type != "variable_declarator":
                    continue
                name_node = decl.child_by_field_name("name")
                if name_node is None or name_node.type != "identifier":
                    continue
                value = decl.child_by_field_name("value")
                vt = value.type if value is not None else ""
                if vt in (
                    "arrow_function",
                    "function_expression",
                    "function",
                    "generator_function",
                ):
                    body = value.child_by_field_name("body") if value is not None else None
                    text = self.function_summary(child, body, "// ...")
                    self.add(self.text(name_node), "function", child, text, container, lead)
                elif vt == "class" and value is not None:
                    self.ts_class(value, lead, container, name=self.text(name_node), outer=child)
                elif is_const and depth == 0:
                    self.add(self.text(name_node), "const", child, self.clipped(child), None, lead)
        elif t == "import_statement" and depth == 0:
            self.ts_import(child)
        elif t in ("internal_module", "module", "ambient_declaration") and depth < 3:
            body = child.child_by_field_name("body")
            for sub in (body or child).named_children:
                self.ts_statement(sub, sub, container, depth + 1)

    def ts_class(
        self,
        node: Node,
        lead: Node,
        container: str | None,
        name: str | None = None,
        outer: Node | None = None,
    ) -> None:
        name = name or self.name_of(node)
        body = node.child_by_field_name("body")
        outer = outer or node
        base = lead.start_point[1]
        head = self.src[outer.start_byte : (body or node).start_byte].decode("utf-8", "replace")
        parts = [head.rstrip() + " {\n"]
        members = 0
        if body is not None:
            for member in body.named_children:
                if member.type in (
                    "method_definition",
                    "method_signature",
                    "abstract_method_signature",
                ):
                    mbody = member.child_by_field_name("body")
                    sig = self.header(member, mbody).rstrip()
                    parts.append(
                        " " * member.start_point[1] + sig + (" { ... }" if mbody else "") + "\n"
                    )
                    mtext = self.function_summary(member, mbody, "// ...")
                    self.add(self.name_of(member), "method", member, mtext, name)
                    members += 1
                elif member.type in (
                    "public_field_definition",
                    "field_definition",
                    "property_signature",
                ):
                    parts.append(
                        " " * member.start_point[1] + self.text(member).split("\n")[0] + "\n"
                    )
                    members += 1
                if members >= MAX_CLASS_MEMBERS:
                    parts.append("  // ...\n")
                    break
        parts.append(" " * base + "}")
        self.add(name, "class", outer, "".join(parts), container, lead)

    def ts_import(self, node: Node) -> None:
        source = self.text(node.child_by_field_name("source")).strip("'\"`")
        for clause in node.named_children:
            if clause.type != "import_clause":
                continue
            for part in clause.named_children:
                if part.type == "identifier":
                    self.imports[self.text(part)] = source
                elif part.type == "namespace_import":
                    for ident in part.named_children:
                        self.imports[self.text(ident)] = source
                elif part.type == "named_imports":
                    for spec in part.named_children:
                        if spec.type == "import_specifier":
                            alias = spec.child_by_field_name("alias")
                            local = self.text(alias) if alias is not None else self.name_of(spec)
                            self.imports[local] = source

    # -- Go
    def visit_go(self, node: Node, container: str | None, depth: int) -> None:
        for child in node.named_children:
            t = child.type
            if t == "function_declaration":
                body = child.child_by_field_name("body")
                text = self.function_summary(child, body, "// ...")
                self.add(self.name_of(child), "function", child, text)
            elif t == "method_declaration":
                body = child.child_by_field_name("body")
                recv = self.text(child.child_by_field_name("receiver"))
                owner = recv.strip("()").split()[-1].lstrip("*") if recv.strip("()") else None
                owner = owner.split("[")[0] if owner else None
                text = self.function_summary(child, body, "// ...")
                self.add(self.name_of(child), "method", child, text, owner)
            elif t == "type_declaration":
                for spec in child.named_children:
                    if spec.type in ("type_spec", "type_alias"):
                        ty = spec.child_by_field_name("type")
                        kind = {"struct_type": "struct", "interface_type": "interface"}.get(
                            ty.type if ty is not None else "", "type"
                        )
                        node_for = child if len(child.named_children) == 1 else spec
                        self.add(self.name_of(spec), kind, node_for, self.clipped(node_for))
            elif t in ("const_declaration", "var_declaration"):
                kind = "const" if t == "const_declaration" else "var"
                for spec in child.named_children:
                    if spec.type in ("const_spec", "var_spec"):
                        for ident in spec.children_by_field_name("name"):
                            node_for = child if len(child.named_children) == 1 else spec
                            self.add(self.text(ident), kind, node_for, self.clipped(node_for))
            elif t == "import_declaration":
                for spec in _descendants(child, "import_spec"):
                    path = self.text(spec.child_by_field_name("path")).strip('"`')
                    alias = self.text(spec.child_by_field_name("name"))
                    self.imports[alias or path.rsplit("/", 1)[-1]] = path

    # -- Rust
    def visit_rust(self, node: Node, container: str | None, depth: int) -> None:
        for child in node.named_children:
            t = child.type
            if t in ("function_item", "function_signature_item"):
                body = child.child_by_field_name("body")
                text = self.function_summary(child, body, "// ...")
                kind = "method" if container else "function"
                self.add(self.name_of(child), kind, child, text, container)
            elif t in ("struct_item", "enum_item", "union_item", "type_item"):
                kind = {"struct_item": "struct", "enum_item": "enum"}.get(t, "type")
                self.add(self.name_of(child), kind, child, self.clipped(child), container)
            elif t in ("const_item", "static_item"):
                self.add(self.name_of(child), "const", child, self.clipped(child), container)
            elif t == "macro_definition":
                self.add(self.name_of(child), "macro", child, self.clipped(child), container)
            elif t == "trait_item":
                name = self.name_of(child)
                self.add(name, "trait", child, self.rust_outline(child), container)
                body = child.child_by_field_name("body")
                if body is not None and depth < 3:
                    self.visit_rust(body, name, depth + 1)
            elif t == "impl_item":
                ty = self.text(child.child_by_field_name("type")).split("<")[0]
                body = child.child_by_field_name("body")
                if body is not None and depth < 3:
                    self.visit_rust(body, ty, depth + 1)
            elif t == "mod_item":
                body = child.child_by_field_name("body")
                if body is not None and depth < 3:
                    self.visit_rust(body, container, depth + 1)
            elif t == "use_declaration" and depth == 0:
                arg = child.child_by_field_name("argument")
                if arg is not None:
                    self.rust_use(arg, "")

    def rust_outline(self, node: Node) -> str:
        body = node.child_by_field_name("body")
        parts = [self.header(node, body).rstrip() + " {\n"]
        if body is not None:
            for member in body.named_children[:MAX_CLASS_MEMBERS]:
                mbody = member.child_by_field_name("body")
                line = self.header(member, mbody).rstrip()
                parts.append(
                    " " * member.start_point[1] + line + (" { ... }" if mbody else "") + "\n"
                )
        parts.append(" " * node.start_point[1] + "}")
        return "".join(parts)

    def rust_use(self, node: Node, prefix: str) -> None:
        t = node.type
        if t in ("identifier", "type_identifier"):
            self.imports[self.text(node)] = prefix
        elif t == "scoped_identifier":
            path = self.text(node.child_by_field_name("path"))
            self.imports[self.name_of(node)] = f"{prefix}::{path}" if prefix else path
        elif t == "use_as_clause":
            path = self.text(node.child_by_field_name("path"))
            self.imports[self.name_of(node, "alias")] = f"{prefix}::{path}" if prefix else path
        elif t == "scoped_use_list":
            path = self.text(node.child_by_field_name("path"))
            lst = node.child_by_field_name("list")
            if lst is not None:
                for sub in lst.named_children:
                    self.rust_use(sub, path)
        elif t == "use_list":
            for sub in node.named_children:
                self.rust_use(sub, prefix)


def _descendants(node: Node, type_name: str) -> Iterator[Node]:
    stack = [node]
    while stack:
        cur = stack.pop()
        if cur.type == type_name:
            yield cur
        else:
            stack.extend(cur.named_children)


def _short_lead(head: str) -> str:
    """Comments/attributes above a definition, at most MAX_DOC_LINES lines: a long doc comment
    keeps its first lines and the lines right above the definition (attributes, decorators),
    so the clipped snippet still reaches the signature."""
    lines = head.split("\n")
    if len(lines) - 1 <= MAX_DOC_LINES:
        return head
    keep_tail = 3  # the last comment/attribute lines and the definition line's indentation
    return "\n".join(lines[: MAX_DOC_LINES - keep_tail + 1] + lines[-keep_tail:])


def _clip_lines(text: str, max_lines: int) -> str:
    lines = text.split("\n")
    if len(lines) <= max_lines:
        return text
    indent = len(lines[-1]) - len(lines[-1].lstrip())
    return "\n".join(lines[: max_lines - 1]) + "\n" + " " * indent + "..."


def extract(path: Path, text: str | bytes, language: str) -> FileSymbols:
    """Parse one file and return its definitions and imports."""
    source = text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text
    tree = parser_for(language).parse(source)
    ex = _Extractor(path, language, source)
    ex.run(tree.root_node)
    return FileSymbols(path=path, language=language, definitions=ex.defs, imports=ex.imports)
