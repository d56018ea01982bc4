"""Reversible redaction for text the model may rewrite or copy into an edit.

Completion prompts can simply replace secrets with `<redacted:…>`, but a rewrite, a docstring
or a multi-file edit sends text the model writes back into the user's files: a plain
placeholder would then replace the user's real key in the file. The vault swaps each distinct
secret for a numbered placeholder the model can copy through, and puts the originals back into
whatever the model returns, so secrets never leave the machine and never get lost either.
The spans are the ones `redaction.Redactor` finds, so both agree on what a secret is.
"""

from __future__ import annotations

from typing import Any

from .redaction import shared_redactor


class SecretVault:
    """One per request: the same secret always gets the same placeholder."""

    def __init__(self) -> None:
        self._by_value: dict[str, str] = {}
        self._by_placeholder: dict[str, str] = {}

    def hide(self, text: str) -> str:
        """`text` with every secret replaced by its placeholder."""
        if not text:
            return text
        spans = shared_redactor().find(text)
        if not spans:
            return text
        out: list[str] = []
        pos = 0
        for start, end, kind in spans:
            out.append(text[pos:start])
            out.append(self._placeholder(text[start:end], kind))
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def reveal(self, text: str) -> str:
        """Put the originals back where the model copied placeholders."""
        if not self._by_placeholder or "<secret:" not in text:
            return text
        for placeholder, value in self._by_placeholder.items():
            text = text.replace(placeholder, value)
        return text

    def reveal_args(self, value: Any) -> Any:
        """`reveal` applied to every string inside tool-call arguments."""
        if isinstance(value, str):
            return self.reveal(value)
        if isinstance(value, dict):
            return {k: self.reveal_args(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.reveal_args(v) for v in value]
        return value

    def __len__(self) -> int:
        return len(self._by_value)

    def _placeholder(self, value: str, kind: str) -> str:
        existing = self._by_value.get(value)
        if existing is not None:
            return existing
        placeholder = f"<secret:{kind}:{len(self._by_value) + 1}>"
        self._by_value[value] = placeholder
        self._by_placeholder[placeholder] = value
        return placeholder
