"""Next-edit suggestions (NES): predict the edit the user makes next, near the cursor.

An LSP-free core, in the order a suggestion is made:

* `region`   – which lines the model may rewrite (the editable region) and the context around;
* `prompt`   – the chat messages: recent edits as diffs, other files' snippets, the file with
               the region marked and the cursor shown;
* `reply`    – the model's answer back to a rewritten region (fences, echoed markers, drifted
               indentation, echoed context);
* `suggest`  – the rewritten region diffed into minimal edits (`textdiff`), minus no-ops,
               repeats or undos of the last edit, formatting/comment noise and anything outside
               the region;
* `engine`   – cache, in-flight cancellation, backoff and counters around one model call.

The protocol module `features.next_edit` turns the result into LSP shapes.
"""
