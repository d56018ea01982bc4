-- Next-edit suggestions: the edit devstral-lsp predicts you make next, shown as a diff in place.
--
-- After a pause in editing (next_edit.debounce_ms) the plugin sends devstral/nextEdit; the
-- server answers only when its `nextEdit` setting allows it (on pause by default for a local
-- model, only when invoked for a paid endpoint). The suggestion is drawn with extmarks: the
-- text it removes highlighted (DevstralNesDelete), the text it adds as virtual text and lines
-- (DevstralNesAdd). In normal mode <Tab> jumps to the suggestion when the cursor is elsewhere
-- and applies it when the cursor is on it; <Esc> dismisses it; any edit clears it. A
-- suggestion is for one version of the buffer: it is never shown or applied once the buffer
-- changed. Needs Neovim 0.10+ (inline virtual text); works on 0.10, 0.11 and 0.12.
local compat = require('devstral.compat')
local api = vim.api

local M = {}

local ns = api.nvim_create_namespace('devstral_nes')
M.ns = ns

local cfg = { enabled = false }
local buffers = {} -- bufnr -> { timer, request = {client, id}, suggestion }

local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

function M.supported()
  return compat.has('0.10')
end

local function enabled()
  return cfg.enabled ~= false and M.supported()
end

local function state(bufnr)
  local st = buffers[bufnr]
  if not st then
    st = {}
    buffers[bufnr] = st
  end
  return st
end

local function client_of(bufnr)
  return compat.get_clients('devstral', bufnr)[1]
end

--- The version the client last sent for the buffer (what the server knows it as).
local function buf_version(bufnr)
  local versions = vim.lsp.util.buf_versions
  local v = versions and versions[bufnr]
  if v == nil then
    v = api.nvim_buf_get_changedtick(bufnr)
  end
  return v
end

local function cancel(bufnr)
  local st = state(bufnr)
  if st.request then
    compat.cancel_request(st.request.client, st.request.id)
    st.request = nil
  end
  if st.timer then
    st.timer:stop()
  end
end

--- Remove the shown suggestion (and forget it).
function M.clear(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
  local st = buffers[bufnr]
  if st then
    st.suggestion = nil
  end
end

--- Byte positions of the suggestion's edits (row/col 0-based).
local function positions(bufnr, edits, encoding)
  local out = {}
  for _, e in ipairs(edits) do
    local s, en = e.range.start, e.range['end']
    table.insert(out, {
      srow = s.line,
      scol = compat.byte_col(bufnr, s, encoding),
      erow = en.line,
      ecol = compat.byte_col(bufnr, en, encoding),
      text = e.newText,
    })
  end
  return out
end

local function render(bufnr, sug)
  api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  local del_hl = cfg.hl_delete or 'DevstralNesDelete'
  local add_hl = cfg.hl_add or 'DevstralNesAdd'
  for _, p in ipairs(sug.positions) do
    if p.srow ~= p.erow or p.scol ~= p.ecol then
      api.nvim_buf_set_extmark(bufnr, ns, p.srow, p.scol, {
        end_row = p.erow,
        end_col = p.ecol,
        hl_group = del_hl,
        priority = 200,
      })
    end
    if p.text ~= '' then
      local lines = vim.split(p.text, '\n', { plain = true })
      local opts = {
        virt_text = { { lines[1], add_hl } },
        virt_text_pos = 'inline',
        hl_mode = 'combine',
        priority = 200,
      }
      if #lines > 1 then
        local virt_lines = {}
        for i = 2, #lines do
          table.insert(virt_lines, { { lines[i], add_hl } })
        end
        opts.virt_lines = virt_lines
      end
      api.nvim_buf_set_extmark(bufnr, ns, p.erow, p.ecol, opts)
    end
  end
  local first = sug.positions[1]
  local row = api.nvim_win_get_cursor(0)[1] - 1
  if first and row ~= first.srow and cfg.hint ~= false then
    api.nvim_buf_set_extmark(bufnr, ns, row, 0, {
      virt_text = { { string.format(' next edit: line %d (Tab)', first.srow + 1), 'NonText' } },
      virt_text_pos = 'eol',
    })
  end
end

--- The current suggestion, if it still applies to the buffer as it is.
function M.current(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = buffers[bufnr]
  local sug = st and st.suggestion
  if not sug then
    return nil
  end
  if sug.version ~= buf_version(bufnr) then
    M.clear(bufnr)
    return nil
  end
  return sug
end

function M.visible(bufnr)
  return M.current(bufnr) ~= nil
end

--- Ask the server for a suggestion at the cursor. `kind`: 1 invoked, 2 automatic.
function M.request(bufnr, kind)
  bufnr = bufnr or api.nvim_get_current_buf()
  if not enabled() then
    return
  end
  local client = client_of(bufnr)
  if not client then
    return
  end
  cancel(bufnr)
  local st = state(bufnr)
  local version = buf_version(bufnr)
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr), version = version },
    position = compat.position_params(client).position,
    context = { triggerKind = kind or TRIGGER_INVOKED },
  }
  local req_id
  local ok, id = compat.request(client, 'devstral/nextEdit', params, function(err, result)
    if st.request and st.request.id == req_id then
      st.request = nil
    end
    if err or type(result) ~= 'table' or type(result.edits) ~= 'table' or #result.edits == 0 then
      return
    end
    if not api.nvim_buf_is_valid(bufnr) or result.version ~= buf_version(bufnr) then
      return -- the buffer changed while the model was thinking: never show a stale edit
    end
    local encoding = client.offset_encoding or 'utf-16'
    st.suggestion = {
      id = result.id,
      version = result.version,
      edits = result.edits,
      encoding = encoding,
      client = client,
      positions = positions(bufnr, result.edits, encoding),
    }
    if bufnr == api.nvim_get_current_buf() then
      render(bufnr, st.suggestion)
    end
  end, bufnr)
  if ok then
    req_id = id
    st.request = { client = client, id = id }
  end
end

--- Apply the current suggestion (only at the version it was made for).
function M.apply(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local sug = M.current(bufnr)
  if not sug then
    return false
  end
  M.clear(bufnr)
  vim.lsp.util.apply_text_edits(sug.edits, bufnr, sug.encoding)
  local last = sug.positions[#sug.positions]
  if last then
    local lines = vim.split(last.text, '\n', { plain = true })
    local row = last.srow + #lines - 1
    local col = (#lines == 1 and last.scol or 0) + #lines[#lines]
    pcall(api.nvim_win_set_cursor, 0, { row + 1, math.max(col - 1, 0) })
  end
  if sug.id then
    compat.request(sug.client, 'workspace/executeCommand', {
      command = 'devstral.nextEditAccepted',
      arguments = { sug.id },
    }, function() end, bufnr)
  end
  return true
end

--- <Tab>: jump to the suggestion when the cursor is elsewhere, apply it when it is there.
function M.jump_or_apply()
  local bufnr = api.nvim_get_current_buf()
  local sug = M.current(bufnr)
  if not sug then
    return false
  end
  local first, last = sug.positions[1], sug.positions[#sug.positions]
  local row = api.nvim_win_get_cursor(0)[1] - 1
  if row < first.srow or row > last.erow then
    api.nvim_win_set_cursor(0, { first.srow + 1, first.scol })
    render(bufnr, sug)
    return true
  end
  return M.apply(bufnr)
end

function M.dismiss()
  local bufnr = api.nvim_get_current_buf()
  local shown = M.visible(bufnr)
  cancel(bufnr)
  M.clear(bufnr)
  return shown
end

--- :DevstralNextEdit — ask now, whatever the automatic setting.
function M.suggest()
  return M.request(api.nvim_get_current_buf(), TRIGGER_INVOKED)
end

local function on_change(bufnr)
  cancel(bufnr)
  M.clear(bufnr)
  local st = state(bufnr)
  if cfg.auto_trigger == false then
    return
  end
  st.timer = st.timer or compat.uv.new_timer()
  st.timer:start(
    cfg.debounce_ms or 500,
    0,
    vim.schedule_wrap(function()
      if api.nvim_buf_is_valid(bufnr) and bufnr == api.nvim_get_current_buf() then
        M.request(bufnr, TRIGGER_AUTOMATIC)
      end
    end)
  )
end

local function map(lhs, fn, desc)
  if not lhs then
    return
  end
  vim.keymap.set('n', lhs, function()
    if M.visible() then
      return '<Cmd>lua require("devstral.nes").' .. fn .. '()<CR>'
    end
    return lhs
  end, { expr = true, silent = true, desc = desc, replace_keycodes = true })
end

function M.setup(config)
  cfg = config.next_edit or {}
  if not enabled() then
    return
  end
  api.nvim_set_hl(0, 'DevstralNesDelete', { link = 'DiffDelete', default = true })
  api.nvim_set_hl(0, 'DevstralNesAdd', { link = 'DiffAdd', default = true })
  local keys = cfg.keys or {}
  map(keys.accept, 'jump_or_apply', 'Devstral: jump to / apply the next edit')
  map(keys.dismiss, 'dismiss', 'Devstral: dismiss the next edit')
  if keys.suggest then
    vim.keymap.set('n', keys.suggest, M.suggest, { desc = 'Devstral: suggest the next edit' })
  end
end

--- Called from on_attach.
function M.attach(_, bufnr)
  if not enabled() then
    return
  end
  local st = state(bufnr)
  if st.attached then
    return
  end
  st.attached = true
  local group = api.nvim_create_augroup('devstral_nes_' .. bufnr, { clear = true })
  api.nvim_create_autocmd({ 'TextChanged', 'TextChangedI' }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_change(bufnr)
    end,
  })
  api.nvim_create_autocmd('BufLeave', {
    group = group,
    buffer = bufnr,
    callback = function()
      cancel(bufnr)
      M.clear(bufnr)
    end,
  })
  api.nvim_create_autocmd('BufWipeout', {
    group = group,
    buffer = bufnr,
    callback = function()
      cancel(bufnr)
      local st2 = buffers[bufnr]
      if st2 and st2.timer then
        st2.timer:close()
      end
      buffers[bufnr] = nil
      pcall(api.nvim_del_augroup_by_id, group)
    end,
  })
end

return M
