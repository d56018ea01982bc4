"""The one key masker: API keys never reach a log line, an error message or the editor.

Keys come from the settings and the environment and are registered here as soon as they are
known (`add_secret`); `mask` then removes them, and anything shaped like `apiKey: …` or
`Authorization: Bearer …`, from any text about to be shown or written: every log record
(`logging_setup.MaskSecrets`), error bodies a backend echoed (`model/errors.py`), user messages.
It lives with the rest of privacy because it is the same promise (a secret does not leave the
process) for a different channel; `logging_setup` only applies it.
"""

from __future__ import annotations

import re

_KEY_FIELD = re.compile(
    r"""((?:api_?key|apiKey|authorization|Authorization)['"]?\s*[:=]\s*['"]?(?:Bearer\s+)?)"""
    r"""([^'"\s,}]{4,})"""
)
_secrets: set[str] = set()


def add_secret(value: str | None) -> None:
    """Never let `value` (an API key) reach any log line."""
    if value and len(value) >= 6:
        _secrets.add(value)


def mask(text: str, *keys: str | None) -> str:
    """Every registered key, the `keys` given, and anything shaped like `apiKey: …` become
    `***` (log lines, error bodies a backend echoed, user messages)."""
    for value in (*_secrets, *(k for k in keys if k and len(k) >= 4)):
        if value in text:
            text = text.replace(value, "***")
    return _KEY_FIELD.sub(r"\1***", text)
