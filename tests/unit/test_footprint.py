"""`footprint.drop_generated_sources`: attrs' generated-source copies leave `linecache` once the
server is built, and a traceback through a generated method still formats (file and line)."""

from __future__ import annotations

import linecache
import traceback

import attrs
import pytest

from lsp_server.app import create_server
from lsp_server.footprint import GENERATED_PREFIX, drop_generated_sources


def test_server_keeps_no_generated_sources() -> None:
    create_server()
    assert not [name for name in linecache.cache if name.startswith(GENERATED_PREFIX)]


def test_traceback_through_a_generated_method_still_formats() -> None:
    def refuse(_instance: object, _attribute: object, value: int) -> None:
        if value < 0:
            raise ValueError("negative")

    @attrs.define
    class Counted:
        n: int = attrs.field(validator=refuse)

    assert any(name.startswith(GENERATED_PREFIX) for name in linecache.cache)
    assert drop_generated_sources() >= 1
    with pytest.raises(ValueError) as info:
        Counted(-1)
    text = "".join(traceback.format_exception(info.value))
    assert "<attrs generated" in text and "Counted" in text and "negative" in text
    assert Counted(2) == Counted(2)  # the methods themselves are untouched
