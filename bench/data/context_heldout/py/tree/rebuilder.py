"""Builds the tree from the ast (modelled on astroid.rebuilder)."""

from . import nodes
from .inference import safe_infer


class TreeRebuilder:
    def visit_continue(self, node, parent):
        return nodes.Continue(node.lineno, node.col_offset, parent)

    def visit_break(self, node, parent):
        return nodes.Break(node.lineno, node.col_offset, parent)

    def visit_if(self, node, parent):
        return nodes.If(node.lineno, node.col_offset, parent)

    def infer(self, node):
        return safe_infer(node)
