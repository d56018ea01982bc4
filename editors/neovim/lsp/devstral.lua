-- Native Neovim 0.11+ configuration, found on 'runtimepath' by vim.lsp.config:
--   vim.lsp.enable('devstral')
-- This gives completion items and code actions only; require('devstral').setup() adds ghost
-- text, commands and logs.
return {
  cmd = { 'devstral-lsp' },
  root_markers = { '.git' },
  init_options = vim.empty_dict(),
  settings = { devstral = vim.empty_dict() },
}
