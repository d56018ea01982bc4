"""Privacy: what of the user's data may leave the process, and how it is kept from leaking.

One package for one promise, each module one channel or rule:

* `policy` (`PrivacyGuard`): which files may be sent to the model, read or edited by the server
  on its own, or used as cross-file context; built on `secret_files` (credential files by name)
  and `ignore_files` (`.devstralignore`, `.gitignore`).
* `redaction` (`Redactor`): secrets inside text that is sent, replaced by `<redacted:kind>`.
* `vault` (`SecretVault`): the reversible form for text the model writes back into files.
* `masking` (`mask`): API keys out of log lines, error messages and user messages.
* `private_files`: files the server writes for the user alone, never readable by other accounts.

Import the submodules directly: this package imports nothing, so `logging_setup` can use the
masker without loading the path policy or the redaction patterns at startup.
"""
