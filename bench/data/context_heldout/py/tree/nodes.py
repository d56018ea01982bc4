"""Syntax tree nodes (modelled on astroid.nodes)."""


class NodeNG:
    def __init__(self, lineno=None, parent=None):
        self.lineno = lineno
        self.parent = parent


class Continue(NodeNG):
    """Class representing a continue statement."""

    def __init__(self, lineno=None, col_offset=None, parent=None):
        super().__init__(lineno, parent)


class Break(NodeNG):
    """Class representing a break statement."""

    def __init__(self, lineno=None, col_offset=None, parent=None):
        super().__init__(lineno, parent)


class If(NodeNG):
    """Class representing an if statement."""

    def __init__(self, lineno=None, col_offset=None, parent=None):
        super().__init__(lineno, parent)
