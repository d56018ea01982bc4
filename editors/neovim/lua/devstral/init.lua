-- devstral.nvim: Devstral Small in Neovim through the devstral-lsp language server.
--
--   require("devstral").setup({})   -- settings = { ... } only to override the environment
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
  -- Next-edit suggestions (Neovim 0.10+): after a pause, the edit Devstral predicts next is
  -- shown as a diff; in normal mode <Tab> jumps to it, <Tab> again applies it, <Esc> dismisses.
  -- The server's `nextEdit` setting decides whether pauses ask the model (see the README).
  next_edit = {
    enabled = true,
    auto_trigger = true,
    debounce_ms = 500,
    keys = { accept = '<Tab>', dismiss = '<Esc>', suggest = false },
  },
  commands = true, -- :DevstralRewrite, :DevstralEditWorkspace, :DevstralStatus, :DevstralLog, ...
  set_omnifunc = true, -- set 'omnifunc' to vim.lsp.omnifunc on attach (0.7 does not do it)
  completion_menu = true, -- with ghost text on, also offer the suggestion in the completion menu
  on_attach = nil, -- function(client, bufnr)
  capabilities = nil, -- extra client capabilities, merged
  log_lines = 2000, -- window/logMessage lines kept for :DevstralLog
  -- function(message, level) for the plugin's messages. nil: vim.notify when it cannot block
  -- typing (a notifier plugin such as nvim-notify, or outside insert mode, one line); messages
  -- that arrive while you type wait until you leave insert mode. Errors show once per outage.
  notify = nil,
}

M.config = vim.deepcopy(defaults)
M.state = {
  status = 'stopped',
  last_error = nil, -- the current error (nil once the server is ready again)
  message = nil, -- the server's message with its current state (devstral/status)
  server_reports = false, -- the server sends devstral/status: it alone decides the state
  outage_notified = false, -- an error was shown for the current outage
  log = {},
  started = {}, -- root_dir -> client_id (Neovim 0.7)
  warned_missing = false,
}

-- vim.notify as Neovim ships it: on 0.7-0.10 it echoes (nvim_err_writeln for errors), which in
-- insert mode or for a long message turns into a "Press ENTER" prompt that eats the next key.
local builtin_notify = vim.notify
local queued = {}

local function flush_queued()
  local items = queued
  queued = {}
  for _, item in ipairs(items) do
    M.notify(item[1], item[2])
  end
end

--- Show a message without ever blocking typing (see the `notify` option).
function M.notify(message, level)
  level = level or vim.log.levels.INFO
  if M.config.notify then
    return M.config.notify(message, level)
  end
  if vim.notify ~= builtin_notify then
    return vim.notify(message, level) -- a notifier plugin: it does not block
  end
  local mode = vim.api.nvim_get_mode()
  if mode.blocking or not mode.mode:match('^n') then
    table.insert(queued, { message, level })
    return
  end
  -- One line that fits: the rest is in :DevstralLog.
  local line = tostring(message):gsub('\n.*', ' (:DevstralLog)')
  local width = math.max(20, vim.o.columns - 15)
  if #line > width then
    line = line:sub(1, width - 1) .. '…'
  end
  vim.notify(line, level)
end

local function merge(a, b)
  return vim.tbl_deep_extend('force', a, b or {})
end

local function log_append(kind, text)
  local st = M.state
  -- The server formats its lines "LEVEL [request] logger: message"; the level is shown once.
  text = tostring(text):gsub('^%u+ (%[[^%]]*%] )', '%1'):gsub('^%u+ (lsp_server)', '%1')
  for line in text:gmatch('[^\n]+') do
    table.insert(st.log, string.format('%s [%s] %s', os.date('%H:%M:%S'), kind, line))
  end
  while #st.log > M.config.log_lines do
    table.remove(st.log, 1)
  end
end

M._log = log_append

local message_kinds = { 'ERROR', 'WARN', 'INFO', 'LOG', 'DEBUG' }

--- Whether `text` is among the last log lines (the server logs what it also shows).
local function logged_recently(text)
  local log = M.state.log
  for i = #log, math.max(1, #log - 20), -1 do
    if log[i]:find(text, 1, true) then
      return true
    end
  end
  return false
end

local function set_state(state, message)
  local st = M.state
  st.status = state
  st.message = message ~= '' and message or nil
  if state == 'error' then
    st.last_error = message
  elseif state == 'ready' then
    st.last_error = nil
    st.outage_notified = false
  end
  pcall(vim.api.nvim_exec_autocmds, 'User', { pattern = 'DevstralStatus', modeline = false })
end
M._set_state = set_state

--- The backend answered (for servers without devstral/status): an error is over.
function M._answered()
  if not M.state.server_reports and M.state.status == 'error' then
    set_state('ready')
  end
end

local function handlers()
  local h = {}
  h['window/logMessage'] = function(err, result, ctx, config)
    if result then
      log_append(message_kinds[result.type] or 'LOG', result.message)
      if tostring(result.message):find('answers again', 1, true) then
        M._answered() -- a server without devstral/status says so in its log
      end
    end
    -- Neovim's own handler writes it to the LSP log file (at its log level).
    local default = vim.lsp.handlers['window/logMessage']
    if default then
      return default(err, result, ctx, config)
    end
  end
  -- Not Neovim's handler: it echoes errors, which blocks typing with "Press ENTER".
  h['window/showMessage'] = function(_, result)
    if not result then
      return
    end
    if not logged_recently(result.message) then
      log_append(message_kinds[result.type] or 'LOG', result.message)
    end
    if result.type == 1 then
      if not M.state.server_reports then
        set_state('error', result.message)
      end
      if M.state.outage_notified then
        return -- once per outage; the state and :DevstralLog have the rest
      end
      M.state.outage_notified = true
    end
    if result.type <= 3 then
      M.notify(result.message, ({ vim.log.levels.ERROR, vim.log.levels.WARN, vim.log.levels.INFO })[result.type])
    end
  end
  -- devstral/status: {kind, state = ready|busy|error|paused|inactive, message, busy}
  h['devstral/status'] = function(_, result)
    if type(result) == 'table' and result.state then
      M.state.server_reports = true
      set_state(result.state, result.message)
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
    -- We show inline completions, and still want Devstral's suggestion in the completion menu
    -- (<C-x><C-o>, nvim-cmp, blink.cmp): the server answers both from one model call. VS Code,
    -- which does not send `experimental.devstral`, gets no duplicate completion items.
    caps.textDocument = caps.textDocument or {}
    caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion
      or { dynamicRegistration = false }
    caps.experimental = caps.experimental or {}
    caps.experimental.devstral = { completionItems = M.config.completion_menu ~= false }
  end
  -- Code actions come with their command (not resolved to an edit): the plugin's command
  -- handlers then ask for instructions and show where generated tests went.
  local ca = caps.textDocument and caps.textDocument.codeAction
  if ca and ca.resolveSupport and ca.resolveSupport.properties then
    ca.resolveSupport.properties = vim.tbl_filter(function(p)
      return p ~= 'edit'
    end, ca.resolveSupport.properties)
  end
  return merge(caps, M.config.capabilities)
end

local function on_attach(client, bufnr)
  if M.state.status == 'starting' or M.state.status == 'stopped' then
    set_state('ready')
  end
  if M.config.set_omnifunc and vim.bo[bufnr].omnifunc == '' then
    vim.bo[bufnr].omnifunc = 'v:lua.vim.lsp.omnifunc'
  end
  require('devstral.ghost').attach(client, bufnr)
  require('devstral.ghost').expand_menu_items(bufnr)
  require('devstral.nes').attach(client, bufnr)
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
      if code ~= 0 then
        local why = string.format('server exited with code %s (signal %s)', code, signal)
        log_append('ERROR', why)
        set_state('error', why .. '; :DevstralLog, then :DevstralRestart')
      else
        set_state('stopped')
      end
    end,
  }
end

local function check_executable()
  local exe = M.config.cmd[1]
  if vim.fn.executable(exe) == 1 then
    return true
  end
  set_state('error', exe .. ' not found on PATH')
  if not M.state.warned_missing then
    M.state.warned_missing = true
    M.notify(
      string.format(
        '[devstral] %q is not executable: install the server from a clone (pipx install '
          .. '/path/to/devstral-lsp) or set cmd in require("devstral").setup()',
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
  if not M.state.server_reports then
    set_state('busy')
  end
  log_append('INFO', 'executeCommand ' .. command)
  compat.request(client, 'workspace/executeCommand', {
    command = command,
    arguments = { argument },
  }, function(err, result)
    if not M.state.server_reports then
      set_state(err and 'error' or 'ready', err and (err.message or vim.inspect(err)) or nil)
    end
    if not err then
      log_append('INFO', 'executeCommand ' .. command .. ' done')
    end
    if err then
      local why = err.message or vim.inspect(err)
      log_append('ERROR', command .. ' failed: ' .. why)
      M.notify('[devstral] ' .. command .. ' failed: ' .. why, vim.log.levels.ERROR)
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

local function ask(prompt, given, fn, default)
  if given and given ~= '' then
    return fn(given)
  end
  vim.ui.input({ prompt = prompt, default = default }, function(input)
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

--- Files an executeCommand result says it touched, as paths (the server sends URIs).
local function result_files(result)
  local out = {}
  for _, f in ipairs(type(result) == 'table' and result.files or {}) do
    table.insert(out, f:match('^%a+:') and vim.uri_to_fname(f) or f)
  end
  return out
end

--- Code actions whose command the plugin runs itself (vim.lsp.commands), so that picking them
--- from the code-action menu works as the :Devstral commands do.
local function register_action_commands()
  local function argument(command)
    return vim.deepcopy(((command or {}).arguments or {})[1] or {})
  end
  -- Ask for the instruction (the server's suggestion, if any, as the default), then run.
  local function asking(name, prompt)
    vim.lsp.commands[name] = function(command, ctx)
      local arg = argument(command)
      ask(prompt, nil, function(instruction)
        arg.instruction = instruction
        M.execute(name, arg, ctx and ctx.bufnr)
      end, arg.instruction ~= '' and arg.instruction or nil)
    end
  end
  asking('devstral.rewrite', 'Devstral rewrite: ')
  asking('devstral.editWorkspace', 'Devstral edit (across files): ')
  vim.lsp.commands['devstral.generateTests'] = function(command, ctx)
    local bufnr = ctx and ctx.bufnr or vim.api.nvim_get_current_buf()
    M.execute('devstral.generateTests', argument(command), bufnr, function(err, result)
      if err or type(result) ~= 'table' or not result.applied then
        return
      end
      local src = vim.api.nvim_buf_get_name(bufnr)
      for _, path in ipairs(result_files(result)) do
        if path ~= src then
          -- Show the generated tests: the edit went into a buffer that nothing displayed.
          vim.cmd('belowright split ' .. vim.fn.fnameescape(path))
          local saved = not vim.bo.modified
          M.notify(string.format('[devstral] tests generated in %s%s', vim.fn.fnamemodify(path, ':~:.'),
            saved and '' or ' (not saved yet: :w to keep them)'), vim.log.levels.INFO)
          break
        end
      end
    end)
  end
end

--- One-line status for statuslines: "devstral: ready", "devstral: error: ...".
--- (A `User DevstralStatus` autocmd fires whenever it changes.)
function M.status()
  local s = 'devstral: ' .. M.state.status
  local detail = M.state.status == 'error' and M.state.last_error or M.state.message
  if M.state.status ~= 'ready' and detail then
    s = s .. ': ' .. detail
  end
  return s
end

local function usage_lines(client)
  local ok, res = pcall(function()
    if compat.has('0.11') then
      return client:request_sync('devstral/usage', vim.empty_dict(), 2000)
    end
    return client.request_sync('devstral/usage', vim.empty_dict(), 2000)
  end)
  local u = ok and res and res.result
  if type(u) ~= 'table' or type(u.today) ~= 'table' then
    return {}
  end
  local function line(label, f)
    return string.format(
      '%s: %d requests, %d tokens in (%d cached), %d out, $%.4f%s',
      label, f.requests or 0, f.tokensIn or 0, f.tokensCached or 0, f.tokensOut or 0,
      f.usd or 0, f.estimated and ' (estimated)' or ''
    )
  end
  local out = { line('today', u.today), line('session', u.session or {}) }
  if u.dailyBudgetUsd ~= nil and u.dailyBudgetUsd ~= vim.NIL then
    table.insert(out, string.format('daily budget: $%.2f%s', u.dailyBudgetUsd,
      u.budgetReached and ' (reached: paused)' or ''))
  end
  return out
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
  if clients[1] then
    vim.list_extend(lines, usage_lines(clients[1]))
  end
  table.insert(lines, 'LSP log file: ' .. vim.lsp.get_log_path())
  -- Asked for by the user in normal mode: a multi-line message is expected here.
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
  cmd('DevstralNextEdit', function()
    require('devstral.nes').suggest()
  end, { desc = 'Ask Devstral for the next edit now' })
  cmd('DevstralRestart', function()
    M.restart()
  end, { desc = 'Restart devstral-lsp' })
end

--- DevstralGhost: Comment's colours, italic, never combined with the code's own colours, and a
--- grey for terminals without 'termguicolors' (where Comment may look like code). A colour
--- scheme or the user can define DevstralGhost; it is then left alone.
function M.define_highlight()
  local gui = vim.api.nvim_get_hl_by_name('Comment', true) or {}
  local cterm = vim.api.nvim_get_hl_by_name('Comment', false) or {}
  vim.api.nvim_set_hl(0, 'DevstralGhost', {
    default = true,
    fg = gui.foreground or 0x808080,
    ctermfg = cterm.foreground or 8,
    italic = true,
    cterm = { italic = true, nocombine = true },
    nocombine = true,
  })
end

function M.setup(opts)
  M.config = merge(vim.deepcopy(defaults), opts)
  if type(M.config.cmd) == 'string' then
    M.config.cmd = { M.config.cmd }
  end
  M.define_highlight()
  vim.api.nvim_create_autocmd('ColorScheme', {
    group = vim.api.nvim_create_augroup('devstral_highlight', { clear = true }),
    callback = M.define_highlight,
  })
  vim.api.nvim_create_autocmd('InsertLeave', {
    group = vim.api.nvim_create_augroup('devstral_notify', { clear = true }),
    callback = function()
      vim.schedule(flush_queued)
    end,
  })
  register_action_commands()
  require('devstral.ghost').setup(M.config)
  require('devstral.nes').setup(M.config)
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
