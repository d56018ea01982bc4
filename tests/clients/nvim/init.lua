-- Minimal init for the headless Neovim tests: this checkout's plugin, the server from the
-- checkout, settings from the environment (see tests/clients/test_neovim.py).
local repo = assert(os.getenv('DEVSTRAL_TEST_REPO'), 'DEVSTRAL_TEST_REPO')
vim.opt.runtimepath:prepend(repo .. '/editors/neovim')
vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.opt.completeopt = { 'menu', 'menuone', 'noinsert' }
vim.opt.shortmess:append('c')
vim.lsp.set_log_level(os.getenv('DEVSTRAL_TEST_LSP_LOG') or 'warn')

local cmd = vim.fn.json_decode(assert(os.getenv('DEVSTRAL_TEST_SERVER_CMD')))
local settings = vim.fn.json_decode(os.getenv('DEVSTRAL_TEST_SETTINGS') or '{}')
if vim.tbl_isempty(settings) then
  settings = nil
end
require('devstral').setup({
  cmd = cmd,
  settings = settings,
  ghost_text = { enabled = os.getenv('DEVSTRAL_TEST_GHOST') == '1', debounce_ms = 30 },
  next_edit = { enabled = os.getenv('DEVSTRAL_TEST_NES') == '1', debounce_ms = 50 },
})
