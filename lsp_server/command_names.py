"""Every `workspace/executeCommand` name the server registers: one home for them.

The features register their handlers under these names, and `bootstrap.py` advertises them in
the `initialize` reply it sends before pygls is even imported. A hand-kept copy there drifted
once already (`devstral.applyNextEdit` was registered but not advertised, so clients that only
run advertised commands could not apply a suggested edit). It imports nothing: the bootstrap
imports it on the start path.
"""

FIX = "devstral.fix"
REWRITE = "devstral.rewrite"
ADD_DOCSTRING = "devstral.addDocstring"
IMPLEMENT = "devstral.implement"
GENERATE_TESTS = "devstral.generateTests"
EXPLAIN = "devstral.explain"
EDIT_WORKSPACE = "devstral.editWorkspace"
NEXT_EDIT_ACCEPTED = "devstral.nextEditAccepted"
APPLY_NEXT_EDIT = "devstral.applyNextEdit"

ALL = (FIX, REWRITE, ADD_DOCSTRING, IMPLEMENT, GENERATE_TESTS, EXPLAIN, EDIT_WORKSPACE,
       NEXT_EDIT_ACCEPTED, APPLY_NEXT_EDIT)
"""In the order the features register them (`features/actions.py`, `features/edit_workspace.py`,
`features/next_edit.py`), which is the order pygls advertises them in."""
