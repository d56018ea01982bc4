"""Inference helpers."""


# Line 0 of a long explanation of how inference works and why it is safe.
# Line 1 of a long explanation of how inference works and why it is safe.
# Line 2 of a long explanation of how inference works and why it is safe.
# Line 3 of a long explanation of how inference works and why it is safe.
# Line 4 of a long explanation of how inference works and why it is safe.
# Line 5 of a long explanation of how inference works and why it is safe.
# Line 6 of a long explanation of how inference works and why it is safe.
# Line 7 of a long explanation of how inference works and why it is safe.
# Line 8 of a long explanation of how inference works and why it is safe.
# Line 9 of a long explanation of how inference works and why it is safe.
# Line 10 of a long explanation of how inference works and why it is safe.
# Line 11 of a long explanation of how inference works and why it is safe.
# Line 12 of a long explanation of how inference works and why it is safe.
# Line 13 of a long explanation of how inference works and why it is safe.
# Line 14 of a long explanation of how inference works and why it is safe.
# Line 15 of a long explanation of how inference works and why it is safe.
# Line 16 of a long explanation of how inference works and why it is safe.
# Line 17 of a long explanation of how inference works and why it is safe.
# Line 18 of a long explanation of how inference works and why it is safe.
# Line 19 of a long explanation of how inference works and why it is safe.
# Line 20 of a long explanation of how inference works and why it is safe.
# Line 21 of a long explanation of how inference works and why it is safe.
# Line 22 of a long explanation of how inference works and why it is safe.
# Line 23 of a long explanation of how inference works and why it is safe.
# Line 24 of a long explanation of how inference works and why it is safe.
# Line 25 of a long explanation of how inference works and why it is safe.
# Line 26 of a long explanation of how inference works and why it is safe.
# Line 27 of a long explanation of how inference works and why it is safe.
# Line 28 of a long explanation of how inference works and why it is safe.
# Line 29 of a long explanation of how inference works and why it is safe.
def safe_infer(node, context=None):
    """Return the inferred value for the given node, or None."""
    return None
