-- devstral.nvim: Devstral Small in Neovim through the devstral-lsp language server.
--
--   require("devstral").setup({ settings = { provider = "mistral" } })
--
-- Neovim 0.7+: LSP completion (omnifunc / any completion plugin), code actions, commands.
-- Neovim 0.10/0.11: ghost text, sent as textDocument/inlineCompletion by this plugin.
-- Neovim 0.12+: ghost text through the built-in vim.lsp.inline_completion.
local compat = require('devstral.compat')

local M = {}

M.name = 'devstral'

local defaults = {
  -- Command that starts the server (stdio). Add '--log-file', '/tmp/devstral.log', '-v' to debug.
  cmd = { 'devstral-lsp' },
  -- nil: every buffer that has a file type. Otherwise a list of file types.
  filetypes = nil,
  -- The project root is the nearest ancestor that holds one of these (else the cwd).
  root_markers = { '.git' },
  -- Server settings, camelCase, as in the server README: provider, baseUrl, model, promptMode,
  -- temperature, maxTokens, timeoutMs, debounceMs, completionItems, contextTokens, logLevel.
  -- Keep the API key in the environment (MISTRAL_API_KEY / DEVSTRAL_API_KEY), not here.
  settings = {},
  ghost_text = {
    enabled = true, -- needs Neovim 0.10+
    engine = 'auto', -- 'auto' (built-in on 0.12+, else plugin) | 'builtin' | 'plugin'
    auto_trigger = true, -- request while typing; false: only on keys.suggest
    debounce_ms = 75,
    trigger_on_delete = false, -- do not ask the model after a backspace
    hl_group = 'DevstralGhost', -- linked to Comment unless you define it
  },
  -- Insert-mode keys; set any of them to false to leave it unmapped. <Tab> falls back to a
  -- plain <Tab> when no suggestion is shown.
  keys = {
    accept = '<Tab>',
    accept_word = '<M-Right>',
    accept_line = '<M-C-Right>',
    next = '<M-]>',
    prev = '<M-[>',
    dismiss = '<C-]>',
    suggest = '<M-\\>',
  },
  commands = true, -- :DevstralRewrite, :DevstralEditWorkspace, :DevstralStatus, :DevstralLog, ...
  set_omnifunc = true, -- set 'omnifunc' to vim.lsp.omnifunc on attach (0.7 does not do it)
  on_attach = nil, -- function(client, bufnr)
  capabilities = nil, -- extra client capabilities, merged
  log_lines = 2000, -- window/logMessage lines kept for :DevstralLog
}

M.config = vim.deepcopy(defaults)
M.state = {
  status = 'stopped',
  last_error = nil,
  log = {},
  started = {}, -- root_dir -> client_id (Neovim 0.7)
  warned_missing = false,
}

local function merge(a, b)
  return vim.tbl_deep_extend('force', a, b or {})
end

local function log_append(kind, text)
  local st = M.state
  for line in tostring(text):gmatch('[^\n]+') do
    table.insert(st.log, string.format('%s [%s] %s', os.date('%H:%M:%S'), kind, line))
  end
  while #st.log > M.config.log_lines do
    table.remove(st.log, 1)
  end
end

M._log = log_append

local message_kinds = { 'ERROR', 'WARN', 'INFO', 'LOG', 'DEBUG' }

local function handlers()
  local h = {}
  h['window/logMessage'] = function(err, result, ctx, config)
    if result then
      log_append(message_kinds[result.type] or 'LOG', result.message)
    end
    -- Neovim's own handler writes it to the LSP log file (at its log level).
    local default = vim.lsp.handlers['window/logMessage']
    if default then
      return default(err, result, ctx, config)
    end
  end
  h['window/showMessage'] = function(err, result, ctx, config)
    if result then
      log_append('SHOW', result.message)
      if result.type == 1 then
        M.state.last_error = result.message
        M.state.status = 'error'
      end
    end
    local default = vim.lsp.handlers['window/showMessage']
    if default then
      return default(err, result, ctx, config)
    end
  end
  return h
end

local function root_dir_for(bufnr)
  local name = vim.api.nvim_buf_get_name(bufnr)
  local dir = name ~= '' and vim.fn.fnamemodify(name, ':p:h') or vim.fn.getcwd()
  if vim.fs and vim.fs.find then
    local found = vim.fs.find(M.config.root_markers, { upward = true, path = dir })[1]
    if found then
      return vim.fn.fnamemodify(found, ':h')
    end
    return vim.fn.getcwd()
  end
  for _, marker in ipairs(M.config.root_markers) do
    local d = vim.fn.finddir(marker, dir .. ';')
    if d ~= '' then
      return vim.fn.fnamemodify(d, ':p:h:h')
    end
    local f = vim.fn.findfile(marker, dir .. ';')
    if f ~= '' then
      return vim.fn.fnamemodify(f, ':p:h')
    end
  end
  return vim.fn.getcwd()
end

local function capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  local ghost = require('devstral.ghost')
  if ghost.engine() ~= nil then
    -- Tell the server we show inline completions, so that with completionItems = "auto" it
    -- does not also fill the completion menu with the same suggestion.
    caps.textDocument = caps.textDocument or {}
    caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion
      or { dynamicRegistration = false }
  end
  return merge(caps, M.config.capabilities)
end

local function on_attach(client, bufnr)
  M.state.status = 'ready'
  if M.config.set_omnifunc and vim.bo[bufnr].omnifunc == '' then
    vim.bo[bufnr].omnifunc = 'v:lua.vim.lsp.omnifunc'
  end
  require('devstral.ghost').attach(client, bufnr)
  if M.config.on_attach then
    M.config.on_attach(client, bufnr)
  end
end

--- Settings as a JSON object even when empty (an empty Lua table would be sent as []).
local function settings_object()
  local s = M.config.settings
  if s == nil or vim.tbl_isempty(s) then
    return vim.empty_dict()
  end
  return s
end

local function lsp_config()
  return {
    name = M.name,
    cmd = M.config.cmd,
    filetypes = M.config.filetypes,
    root_markers = M.config.root_markers,
    init_options = settings_object(),
    settings = { devstral = settings_object() },
    capabilities = capabilities(),
    handlers = handlers(),
    on_attach = on_attach,
    on_exit = function(code, signal)
      M.state.status = 'stopped'
      if code ~= 0 then
        M.state.last_error = string.format('server exited with code %s (signal %s)', code, signal)
        log_append('ERROR', M.state.last_error)
      end
    end,
  }
end

local function check_executable()
  local exe = M.config.cmd[1]
  if vim.fn.executable(exe) == 1 then
    return true
  end
  M.state.status = 'error'
  M.state.last_error = exe .. ' not found on PATH'
  if not M.state.warned_missing then
    M.state.warned_missing = true
    vim.notify(
      string.format(
        '[devstral] %q is not executable. Install the server (pip install devstral-lsp) '
          .. 'or set cmd in require("devstral").setup().',
        exe
      ),
      vim.log.levels.ERROR
    )
  end
  return false
end

local function wants(bufnr)
  if vim.bo[bufnr].buftype ~= '' then
    return false
  end
  local ft = vim.bo[bufnr].filetype
  if M.config.filetypes then
    return vim.tbl_contains(M.config.filetypes, ft)
  end
  return ft ~= ''
end

--- Start (or reuse) the server for a buffer. Used on Neovim 0.7–0.10.
function M.start(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if not wants(bufnr) or not check_executable() then
    return nil
  end
  M.state.status = M.state.status == 'ready' and 'ready' or 'starting'
  local config = lsp_config()
  config.root_dir = root_dir_for(bufnr)
  config.root_markers = nil
  config.filetypes = nil
  if vim.lsp.start then
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  -- Neovim 0.7: one client per root, attached by hand.
  local id = M.state.started[config.root_dir]
  if not id or not vim.lsp.get_client_by_id(id) then
    config.workspace_folders = {
      { uri = vim.uri_from_fname(config.root_dir), name = config.root_dir },
    }
    id = vim.lsp.start_client(config)
    M.state.started[config.root_dir] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

function M.clients(bufnr)
  return compat.get_clients(M.name, bufnr)
end

function M.client(bufnr)
  return M.clients(bufnr or vim.api.nvim_get_current_buf())[1]
end

--- Ask the server to run one of its commands (devstral.rewrite, devstral.editWorkspace).
function M.execute(command, argument, bufnr, on_done)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    vim.notify('[devstral] no devstral-lsp client attached to this buffer', vim.log.levels.WARN)
    return
  end
  M.state.status = 'working'
  log_append('INFO', 'executeCommand ' .. command)
  compat.request(client, 'workspace/executeCommand', {
    command = command,
    arguments = { argument },
  }, function(err, result)
    M.state.status = err and 'error' or 'ready'
    if err then
      M.state.last_error = err.message or vim.inspect(err)
      vim.notify('[devstral] ' .. command .. ' failed: ' .. M.state.last_error, vim.log.levels.ERROR)
    end
    if on_done then
      on_done(err, result)
    end
  end, bufnr)
end

--- LSP range for lines line1..line2 (1-based, inclusive) or a charwise visual selection.
local function selection_range(client, bufnr, line1, line2, charwise)
  local enc = client.offset_encoding or 'utf-16'
  local lines = vim.api.nvim_buf_get_lines(bufnr, line1 - 1, line2, false)
  local scol, ecol = 0, #(lines[#lines] or '')
  if charwise then
    local s = vim.fn.getpos("'<")
    local e = vim.fn.getpos("'>")
    if s[2] == line1 and e[2] == line2 then
      scol = s[3] - 1
      ecol = math.min(e[3], #(lines[#lines] or ''))
    end
  end
  return {
    start = { line = line1 - 1, character = compat.lsp_char(lines[1] or '', scol, enc) },
    ['end'] = { line = line2 - 1, character = compat.lsp_char(lines[#lines] or '', ecol, enc) },
  }
end

local function ask(prompt, given, fn)
  if given and given ~= '' then
    return fn(given)
  end
  vim.ui.input({ prompt = prompt }, function(input)
    if input and input ~= '' then
      fn(input)
    end
  end)
end

--- :DevstralRewrite — rewrite the selected lines (or the current line) by an instruction.
function M.rewrite(opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    vim.notify('[devstral] no devstral-lsp client attached to this buffer', vim.log.levels.WARN)
    return
  end
  local line1 = opts.line1 or vim.fn.line('.')
  local line2 = opts.line2 or line1
  local charwise = opts.range == 2 and vim.fn.visualmode() == 'v'
  local range = selection_range(client, bufnr, line1, line2, charwise)
  ask('Devstral rewrite: ', opts.args, function(instruction)
    M.execute('devstral.rewrite', {
      uri = vim.uri_from_bufnr(bufnr),
      range = range,
      instruction = instruction,
    }, bufnr, opts.on_done)
  end)
end

--- :DevstralEditWorkspace — an edit across files; the server applies it as one workspace edit.
function M.edit_workspace(opts)
  opts = opts or {}
  local bufnr = vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    vim.notify('[devstral] no devstral-lsp client attached to this buffer', vim.log.levels.WARN)
    return
  end
  ask('Devstral edit (across files): ', opts.args, function(instruction)
    local arg = { instruction = instruction, uri = vim.uri_from_bufnr(bufnr) }
    if opts.range and opts.range > 0 then
      arg.range = selection_range(client, bufnr, opts.line1, opts.line2, false)
    end
    M.execute('devstral.editWorkspace', arg, bufnr, opts.on_done)
  end)
end

--- One-line status for statuslines: "devstral: ready", "devstral: error: ...".
function M.status()
  local s = 'devstral: ' .. M.state.status
  if M.state.status == 'error' and M.state.last_error then
    s = s .. ': ' .. M.state.last_error
  end
  return s
end

function M.show_status()
  local lines = { M.status() }
  local clients = compat.get_clients(M.name)
  table.insert(lines, string.format('clients: %d', #clients))
  for _, c in ipairs(clients) do
    local caps = c.server_capabilities or c.resolved_capabilities or {}
    local buffers = {}
    for b in pairs(c.attached_buffers or {}) do
      table.insert(buffers, tostring(b))
    end
    table.insert(
      lines,
      string.format(
        '  id %d, root %s, encoding %s, buffers [%s], inlineCompletion %s',
        c.id,
        tostring(c.config.root_dir),
        tostring(c.offset_encoding),
        table.concat(buffers, ','),
        tostring(caps.inlineCompletionProvider ~= nil)
      )
    )
  end
  table.insert(lines, 'ghost text: ' .. require('devstral.ghost').describe())
  table.insert(lines, 'cmd: ' .. table.concat(M.config.cmd, ' '))
  local shown = {}
  for k, v in pairs(M.config.settings or {}) do
    if not tostring(k):lower():match('key') then
      table.insert(shown, k .. '=' .. vim.inspect(v))
    end
  end
  table.sort(shown)
  table.insert(lines, 'settings: ' .. table.concat(shown, ', '))
  if M.state.last_error then
    table.insert(lines, 'last error: ' .. M.state.last_error)
  end
  table.insert(lines, 'LSP log file: ' .. vim.lsp.get_log_path())
  vim.notify(table.concat(lines, '\n'), vim.log.levels.INFO)
  return lines
end

--- :DevstralLog — the server's window/logMessage lines in a scratch buffer.
function M.show_log()
  local buf = vim.api.nvim_create_buf(false, true)
  local lines = #M.state.log > 0 and M.state.log or { '(no messages from devstral-lsp yet)' }
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = 'wipe'
  vim.cmd('botright split')
  vim.api.nvim_win_set_buf(0, buf)
  vim.cmd('normal! G')
  return buf
end

function M.restart()
  for _, c in ipairs(compat.get_clients(M.name)) do
    if compat.has('0.11') then
      c:stop()
    else
      c.stop()
    end
  end
  M.state.started = {}
  vim.defer_fn(function()
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) then
        if compat.has('0.11') then
          vim.cmd('doautoall nvim.lsp.enable FileType')
          break
        end
        M.start(b)
      end
    end
  end, 500)
end

local function create_commands()
  local cmd = vim.api.nvim_create_user_command
  cmd('DevstralRewrite', function(o)
    M.rewrite(o)
  end, { range = true, nargs = '?', desc = 'Rewrite the selection with Devstral' })
  cmd('DevstralEditWorkspace', function(o)
    M.edit_workspace(o)
  end, { range = true, nargs = '?', desc = 'Edit across files with Devstral' })
  cmd('DevstralStatus', function()
    M.show_status()
  end, { desc = 'Show the devstral-lsp state' })
  cmd('DevstralLog', function()
    M.show_log()
  end, { desc = 'Show the messages devstral-lsp logged' })
  cmd('DevstralToggle', function()
    require('devstral.ghost').toggle()
  end, { desc = 'Toggle automatic ghost text' })
  cmd('DevstralRestart', function()
    M.restart()
  end, { desc = 'Restart devstral-lsp' })
end

function M.setup(opts)
  M.config = merge(vim.deepcopy(defaults), opts)
  if type(M.config.cmd) == 'string' then
    M.config.cmd = { M.config.cmd }
  end
  vim.api.nvim_set_hl(0, 'DevstralGhost', { link = 'Comment', default = true })
  require('devstral.ghost').setup(M.config)
  if M.config.commands then
    create_commands()
  end

  if compat.has('0.11') and vim.lsp.config and vim.lsp.enable then
    if check_executable() then
      M.state.status = 'starting'
      vim.lsp.config(M.name, lsp_config())
      vim.lsp.enable(M.name)
    end
    return M
  end

  local group = vim.api.nvim_create_augroup('devstral_start', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    callback = function(args)
      M.start(args.buf)
    end,
  })
  -- Buffers that were already open when setup() ran.
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and wants(b) then
      M.start(b)
    end
  end
  return M
end

-- Public ghost-text API, for your own mappings.
function M.accept()
  return require('devstral.ghost').accept()
end
function M.accept_word()
  return require('devstral.ghost').accept_word()
end
function M.accept_line()
  return require('devstral.ghost').accept_line()
end
function M.dismiss()
  return require('devstral.ghost').dismiss()
end
function M.suggest()
  return require('devstral.ghost').suggest()
end
function M.visible()
  return require('devstral.ghost').visible()
end

return M
