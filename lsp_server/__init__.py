"""devstral-lsp: Devstral Small in every LSP editor."""
__version__ = "0.1.0"
