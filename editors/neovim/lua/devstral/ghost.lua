-- Ghost text: inline completions shown as extmarks.
--
-- Neovim 0.10/0.11 have no inline-completion client, so this module sends
-- textDocument/inlineCompletion itself (debounced, cancelled when stale) and draws the answer
-- with virt_text (first line, inline) and virt_lines (the rest). On 0.12+ the built-in
-- vim.lsp.inline_completion is used unless ghost_text.engine = 'plugin'.
local compat = require('devstral.compat')
local api = vim.api

local M = {}

local ns = api.nvim_create_namespace('devstral_ghost')
M.ns = ns

local cfg = { ghost_text = { enabled = false }, keys = {} }
local auto = true
local buffers = {} -- bufnr -> state

local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

--- 'plugin', 'builtin' or nil (no ghost text on this Neovim / disabled).
function M.engine()
  local g = cfg.ghost_text or {}
  if not g.enabled then
    return nil
  end
  local builtin = compat.has('0.12') and vim.lsp.inline_completion ~= nil
  if g.engine == 'builtin' then
    return builtin and 'builtin' or nil
  end
  if g.engine == 'plugin' or not builtin then
    return compat.has('0.10') and 'plugin' or nil
  end
  return 'builtin'
end

local function state(bufnr)
  local st = buffers[bufnr]
  if not st then
    st = { items = {}, index = 0 }
    buffers[bufnr] = st
  end
  return st
end

local function client_of(bufnr)
  return compat.get_clients('devstral', bufnr)[1]
end

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function clear_marks(bufnr)
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
end

local function snippet_to_text(s)
  s = s:gsub('%${%d+:([^}]*)}', '%1'):gsub('%${%d+}', ''):gsub('%$%d+', '')
  return s
end

--- Text of the buffer between two (row, col) byte positions.
local function buf_text(bufnr, srow, scol, erow, ecol)
  if erow < srow or (erow == srow and ecol < scol) then
    return nil
  end
  local ok, lines = pcall(api.nvim_buf_get_text, bufnr, srow, scol, erow, ecol, {})
  if not ok then
    return nil
  end
  return table.concat(lines, '\n')
end

--- What is left to show/insert of the current item, given what the user typed since.
local function remainder(bufnr, st)
  local item = st.items[st.index]
  if not item then
    return nil
  end
  local row, col = cursor()
  local typed = buf_text(bufnr, item.srow, item.scol, row, col)
  if typed == nil then
    return nil
  end
  if item.text:sub(1, #typed) ~= typed then
    return nil
  end
  return item.text:sub(#typed + 1)
end

local function render(bufnr)
  clear_marks(bufnr)
  local st = state(bufnr)
  local rest = remainder(bufnr, st)
  if not rest or rest == '' then
    st.shown = nil
    return false
  end
  local hl = cfg.ghost_text.hl_group or 'DevstralGhost'
  local lines = vim.split(rest, '\n', { plain = true })
  local row, col = cursor()
  local virt_lines = {}
  for i = 2, #lines do
    table.insert(virt_lines, { { lines[i], hl } })
  end
  local opts = {
    virt_text = { { lines[1], hl } },
    virt_text_pos = 'inline',
    hl_mode = 'combine',
  }
  if #virt_lines > 0 then
    opts.virt_lines = virt_lines
  end
  if #st.items > 1 then
    local tail = virt_lines[#virt_lines] or opts.virt_text
    table.insert(tail, { string.format(' (%d/%d)', st.index, #st.items), 'NonText' })
  end
  st.extmark = api.nvim_buf_set_extmark(bufnr, ns, row, col, opts)
  st.shown = rest
  return true
end

local function cancel(bufnr)
  local st = state(bufnr)
  if st.timer then
    st.timer:stop()
    st.timer:close()
    st.timer = nil
  end
  if st.request_id and st.client_id then
    local client = vim.lsp.get_client_by_id(st.client_id)
    if client then
      compat.cancel_request(client, st.request_id)
    end
  end
  st.request_id = nil
end

local function reset(bufnr)
  cancel(bufnr)
  local st = state(bufnr)
  st.items, st.index, st.shown = {}, 0, nil
  clear_marks(bufnr)
end

local function to_items(bufnr, client, result, req)
  local raw = result and (result.items or result) or {}
  local items = {}
  local enc = client.offset_encoding or 'utf-16'
  for _, it in ipairs(raw) do
    local text = it.insertText
    if type(text) == 'table' then
      text = snippet_to_text(text.value or '')
    end
    if type(text) == 'string' and text ~= '' then
      local srow, scol, erow, ecol = req.row, req.col, req.row, req.col
      if it.range then
        srow = it.range.start.line
        erow = it.range['end'].line
        scol = compat.byte_col(bufnr, it.range.start, enc)
        ecol = compat.byte_col(bufnr, it.range['end'], enc)
      end
      -- The replaced range must start at or before the cursor, and the text must agree with
      -- what is already typed there; otherwise the item cannot be shown as ghost text.
      local typed = buf_text(bufnr, srow, scol, req.row, req.col)
      if typed and text:sub(1, #typed) == typed then
        local line = api.nvim_buf_get_lines(bufnr, erow, erow + 1, false)[1] or ''
        table.insert(items, {
          text = text,
          srow = srow,
          scol = scol,
          erow = erow,
          -- the end is kept relative to the end of its line so typing before it moves it along
          eoff = #line - math.max(ecol, erow == req.row and req.col or 0),
          command = it.command,
          client_id = client.id,
        })
      end
    end
  end
  return items
end

--- Send textDocument/inlineCompletion for the cursor position.
function M.request(bufnr, trigger_kind)
  bufnr = bufnr or api.nvim_get_current_buf()
  local client = client_of(bufnr)
  if not client then
    return false
  end
  cancel(bufnr)
  local st = state(bufnr)
  local row, col = cursor()
  local req = { row = row, col = col, tick = api.nvim_buf_get_changedtick(bufnr) }
  local params = compat.position_params(client, 0)
  params.context = { triggerKind = trigger_kind or TRIGGER_AUTOMATIC }
  st.client_id = client.id
  st.pending = req
  local ok, id = compat.request(client, 'textDocument/inlineCompletion', params, function(err, result)
    if st.pending ~= req then
      return -- superseded
    end
    st.pending, st.request_id = nil, nil
    if err then
      require('devstral')._log('ERROR', 'inlineCompletion: ' .. (err.message or vim.inspect(err)))
      return
    end
    local answered = result and ((result.items and #result.items > 0) or (result[1] ~= nil))
    if answered then
      require('devstral')._answered()
    end
    if not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr then
      return
    end
    local r, c = cursor()
    if api.nvim_buf_get_changedtick(bufnr) ~= req.tick or r ~= req.row or c ~= req.col then
      return -- stale: the user moved on
    end
    if not vim.fn.mode():match('^i') then
      return
    end
    st.items = to_items(bufnr, client, result, req)
    st.index = #st.items > 0 and 1 or 0
    render(bufnr)
  end, bufnr)
  if ok then
    st.request_id = id
  end
  return ok
end

local function schedule(bufnr)
  local st = state(bufnr)
  if st.timer then
    st.timer:stop()
  else
    st.timer = compat.uv.new_timer()
  end
  st.timer:start(
    cfg.ghost_text.debounce_ms or 75,
    0,
    vim.schedule_wrap(function()
      if api.nvim_buf_is_valid(bufnr) and api.nvim_get_current_buf() == bufnr then
        if vim.fn.mode():match('^i') then
          M.request(bufnr, TRIGGER_AUTOMATIC)
        end
      end
    end)
  )
end

local function on_text_changed(bufnr)
  local st = state(bufnr)
  local row = cursor()
  local line = api.nvim_get_current_line()
  local deleted = st.last_row == row and st.last_len and #line < st.last_len
  st.last_row, st.last_len = row, #line
  if st.accepting then
    st.accepting = false
    if render(bufnr) then
      return
    end
  end
  -- Typing through the suggestion keeps it without asking the model again.
  if st.shown and not deleted and render(bufnr) then
    return
  end
  reset(bufnr)
  st.last_row, st.last_len = row, #line
  if deleted and not cfg.ghost_text.trigger_on_delete then
    return
  end
  if auto and not st.dismissed_tick then
    schedule(bufnr)
  end
  st.dismissed_tick = nil
end

local function on_cursor_moved(bufnr)
  local st = state(bufnr)
  local tick = api.nvim_buf_get_changedtick(bufnr)
  if st.moved_tick == tick then
    -- The cursor moved without a text change: the suggestion no longer applies.
    reset(bufnr)
    if auto then
      schedule(bufnr)
    end
  end
  st.moved_tick = tick
end

function M.visible(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  if M.engine() == 'builtin' then
    local bns = api.nvim_get_namespaces()['nvim.lsp.inline_completion']
    return bns ~= nil and #api.nvim_buf_get_extmarks(bufnr, bns, 0, -1, { limit = 1 }) > 0
  end
  local st = buffers[bufnr]
  return st ~= nil and st.shown ~= nil and st.shown ~= ''
end

--- The ghost text now displayed (for tests and statuslines).
function M.current_text(bufnr)
  local st = buffers[bufnr or api.nvim_get_current_buf()]
  return st and st.shown
end

local function run_command(bufnr, item)
  if not item.command then
    return
  end
  local client = vim.lsp.get_client_by_id(item.client_id)
  if client then
    compat.request(client, 'workspace/executeCommand', {
      command = item.command.command,
      arguments = item.command.arguments,
    }, function() end, bufnr)
  end
end

--- Accept the whole suggestion.
function M.accept()
  local bufnr = api.nvim_get_current_buf()
  if M.engine() == 'builtin' then
    return vim.lsp.inline_completion.get()
  end
  local st = state(bufnr)
  local item = st.items[st.index]
  if not item or not st.shown then
    return false
  end
  local row, col = cursor()
  local erow = math.max(item.erow, row)
  local eline = api.nvim_buf_get_lines(bufnr, erow, erow + 1, false)[1] or ''
  local ecol = #eline - item.eoff
  if erow == row then
    ecol = math.max(ecol, col)
  end
  ecol = math.min(math.max(ecol, 0), #eline)
  local lines = vim.split(item.text, '\n', { plain = true })
  reset(bufnr)
  st.dismissed_tick = true -- do not immediately ask again for the text we just inserted
  api.nvim_buf_set_text(bufnr, item.srow, item.scol, erow, ecol, lines)
  local last_row = item.srow + #lines - 1
  local last_col = (#lines == 1 and item.scol or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { last_row + 1, last_col })
  run_command(bufnr, item)
  return true
end

local function accept_part(pattern_fn)
  local bufnr = api.nvim_get_current_buf()
  local st = state(bufnr)
  if M.engine() ~= 'plugin' or not st.shown then
    return false
  end
  local part = pattern_fn(st.shown)
  if not part or part == '' or part == st.shown then
    return M.accept()
  end
  local row, col = cursor()
  local lines = vim.split(part, '\n', { plain = true })
  st.accepting = true
  api.nvim_buf_set_text(bufnr, row, col, row, col, lines)
  local last_row = row + #lines - 1
  local last_col = (#lines == 1 and col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { last_row + 1, last_col })
  render(bufnr)
  return true
end

--- Accept the next word of the suggestion.
function M.accept_word()
  return accept_part(function(rest)
    return rest:match('^%s*[%w_]+') or rest:match('^%s*[^%w_%s]+') or rest:match('^%s+')
  end)
end

--- Accept up to the end of the current line of the suggestion (and its line break).
function M.accept_line()
  return accept_part(function(rest)
    local first = rest:match('^([^\n]*\n?)')
    if first == '\n' then
      first = rest:match('^\n[^\n]*\n?')
    end
    return first
  end)
end

function M.dismiss()
  local bufnr = api.nvim_get_current_buf()
  if M.engine() == 'builtin' then
    local bns = api.nvim_get_namespaces()['nvim.lsp.inline_completion']
    if bns then
      api.nvim_buf_clear_namespace(bufnr, bns, 0, -1)
    end
    return true
  end
  local shown = M.visible(bufnr)
  reset(bufnr)
  state(bufnr).dismissed_tick = true
  return shown
end

--- Ask for a suggestion now (InlineCompletionTriggerKind.Invoked).
function M.suggest()
  local bufnr = api.nvim_get_current_buf()
  if M.engine() == 'builtin' then
    return vim.lsp.inline_completion.get()
  end
  return M.request(bufnr, TRIGGER_INVOKED)
end

local function cycle(delta)
  local bufnr = api.nvim_get_current_buf()
  if M.engine() == 'builtin' then
    local ic = vim.lsp.inline_completion
    local f = ic.select or ic.jump
    if f then
      return f({ count = delta })
    end
    return
  end
  local st = state(bufnr)
  if #st.items <= 1 then
    return M.request(bufnr, TRIGGER_INVOKED)
  end
  st.index = (st.index - 1 + delta) % #st.items + 1
  render(bufnr)
end

function M.next()
  return cycle(1)
end
function M.prev()
  return cycle(-1)
end

function M.toggle()
  auto = not auto
  if not auto then
    for b in pairs(buffers) do
      reset(b)
    end
  end
  vim.notify('[devstral] automatic ghost text ' .. (auto and 'on' or 'off'))
  return auto
end

function M.describe()
  local engine = M.engine()
  if not engine then
    return compat.has('0.10') and 'disabled' or 'needs Neovim 0.10+ (completion menu works)'
  end
  return string.format('%s engine, auto trigger %s', engine, auto and 'on' or 'off')
end

local function map(lhs, fn, desc, fallback)
  if not lhs then
    return
  end
  if fallback then
    vim.keymap.set('i', lhs, function()
      if M.visible() then
        return '<Cmd>lua require("devstral.ghost").' .. fn .. '()<CR>'
      end
      return lhs
    end, { expr = true, silent = true, desc = desc, replace_keycodes = true })
  else
    vim.keymap.set('i', lhs, function()
      M[fn]()
    end, { silent = true, desc = desc })
  end
end

function M.setup(config)
  cfg = config
  auto = cfg.ghost_text.auto_trigger ~= false
  local engine = M.engine()
  if not engine then
    return
  end
  local keys = cfg.keys or {}
  map(keys.accept, 'accept', 'Devstral: accept suggestion', true)
  map(keys.accept_word, 'accept_word', 'Devstral: accept a word', false)
  map(keys.accept_line, 'accept_line', 'Devstral: accept a line', false)
  map(keys.next, 'next', 'Devstral: next suggestion', false)
  map(keys.prev, 'prev', 'Devstral: previous suggestion', false)
  map(keys.dismiss, 'dismiss', 'Devstral: dismiss suggestion', true)
  map(keys.suggest, 'suggest', 'Devstral: suggest now', false)
end

--- Neovim 0.10+'s omnifunc inserts a snippet item's label (one line) as Vim's completed word
--- and leaves snippet expansion to vim.lsp.completion.enable(), which few setups turn on.
--- Devstral's items carry the whole suggestion in textEdit.newText (the server sends line
--- breaks only to clients with snippet support): put it in place of the word once accepted.
function M.expand_menu_items(bufnr)
  if not (vim.snippet and vim.snippet.expand) then
    return
  end
  api.nvim_create_autocmd('CompleteDone', {
    group = api.nvim_create_augroup('devstral_menu_' .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      local done = vim.v.completed_item or {}
      local lsp = vim.tbl_get(done, 'user_data', 'nvim', 'lsp') or {}
      local item = lsp.completion_item
      local reason = (vim.v.event or {}).reason
      if type(item) ~= 'table' or (reason and reason ~= 'accept') then
        return
      end
      local edit = item.textEdit
      if item.insertTextFormat ~= 2 or type(edit) ~= 'table' or type(edit.newText) ~= 'string'
        or not tostring(item.detail or ''):find('^Devstral') then
        return
      end
      local word = done.word or ''
      local row, col = cursor()
      local line = api.nvim_get_current_line()
      if line:sub(col - #word + 1, col) ~= word or snippet_to_text(edit.newText) == word then
        return -- nothing to add, or another plugin expanded it already
      end
      api.nvim_buf_set_text(bufnr, row, col - #word, row, col, { '' })
      vim.snippet.expand(edit.newText)
    end,
  })
end

--- Called from on_attach.
function M.attach(client, bufnr)
  local engine = M.engine()
  if engine == 'builtin' then
    pcall(vim.lsp.inline_completion.enable, true, { bufnr = bufnr, client_id = client.id })
    return
  end
  if engine ~= 'plugin' then
    return
  end
  local st = state(bufnr)
  if st.attached then
    return
  end
  st.attached = true
  local group = api.nvim_create_augroup('devstral_ghost_' .. bufnr, { clear = true })
  api.nvim_create_autocmd('TextChangedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      on_text_changed(bufnr)
    end,
  })
  api.nvim_create_autocmd('CursorMovedI', {
    group = group,
    buffer = bufnr,
    callback = function()
      on_cursor_moved(bufnr)
    end,
  })
  api.nvim_create_autocmd('InsertEnter', {
    group = group,
    buffer = bufnr,
    callback = function()
      local s = state(bufnr)
      s.moved_tick = api.nvim_buf_get_changedtick(bufnr)
      s.last_row, s.last_len = nil, nil
    end,
  })
  api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      reset(bufnr)
    end,
  })
  api.nvim_create_autocmd('BufWipeout', {
    group = group,
    buffer = bufnr,
    callback = function()
      reset(bufnr)
      buffers[bufnr] = nil
      pcall(api.nvim_del_augroup_by_id, group)
    end,
  })
end

return M
