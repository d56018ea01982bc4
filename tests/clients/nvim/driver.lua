-- Drives a headless Neovim like a user: insert mode keys from a coroutine (the main loop keeps
-- processing typeahead and LSP messages between steps), answers pickers by replacing
-- vim.ui.select / vim.ui.input, and writes what it saw to $DEVSTRAL_TEST_OUT as JSON.
local api = vim.api
local out_path = assert(os.getenv('DEVSTRAL_TEST_OUT'))
local scenario = assert(os.getenv('DEVSTRAL_TEST_SCENARIO'))
local v = vim.version()
local result = {
  scenario = scenario,
  nvim = string.format('%d.%d.%d', v.major, v.minor, v.patch),
  steps = {},
}
local finished = false

local function step(name)
  table.insert(result.steps, name)
end

local function finish(ok, err)
  if finished then
    return
  end
  finished = true
  result.ok = ok
  result.error = err and tostring(err) or nil
  pcall(function()
    result.lines = api.nvim_buf_get_lines(0, 0, -1, false)
    result.log = require('devstral').state.log
    result.status = require('devstral').status()
  end)
  local f = assert(io.open(out_path, 'w'))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd('qa!')
end

local co
local function resume(...)
  local ok, err = coroutine.resume(co, ...)
  if not ok then
    finish(false, err)
  end
end

local function sleep(ms)
  vim.defer_fn(function()
    resume()
  end, ms)
  coroutine.yield()
end

local function wait_until(cond, timeout_ms, what)
  local deadline = vim.loop.now() + timeout_ms
  while true do
    local ok, value = pcall(cond)
    if ok and value then
      return value
    end
    if vim.loop.now() > deadline then
      error('timed out waiting for ' .. what, 2)
    end
    sleep(20)
  end
end

local function keys(s, mode)
  api.nvim_feedkeys(api.nvim_replace_termcodes(s, true, false, true), mode or 'n', false)
end

--- Insert mode at the end of `row` (or of the cursor line), as `A` does.
local function start_insert(row)
  if row then
    api.nvim_win_set_cursor(0, { row, 0 })
  end
  keys('A')
  wait_until(function()
    return vim.fn.mode() == 'i'
  end, 3000, 'insert mode')
end

-- The extmarks of a namespace as plain data: position, highlighted range, virtual text.
local function extmarks(buf, ns)
  local out = {}
  for _, m in ipairs(api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
    local d = m[4]
    local text = {}
    for _, chunk in ipairs(d.virt_text or {}) do
      table.insert(text, chunk[1])
    end
    table.insert(out, {
      row = m[2],
      col = m[3],
      end_row = d.end_row,
      end_col = d.end_col,
      hl_group = d.hl_group,
      virt_text = table.concat(text),
      virt_text_pos = d.virt_text_pos,
      virt_lines = d.virt_lines and #d.virt_lines or 0,
    })
  end
  return out
end

local function devstral_client()
  return require('devstral').client(api.nvim_get_current_buf())
end

local function wait_for_server()
  return wait_until(function()
    local c = devstral_client()
    return c and c.server_capabilities and next(c.server_capabilities) ~= nil and c
  end, 20000, 'the devstral client to attach and initialize')
end

local scenarios = {}

-- LSP completion (omnifunc, as <C-x><C-o>) inserts the model's text.
function scenarios.completion()
  local client = wait_for_server()
  step('attached')
  result.completion_provider = client.server_capabilities.completionProvider ~= nil
  local row = tonumber(os.getenv('DEVSTRAL_TEST_ROW'))
  start_insert(row)
  keys('<C-x><C-o>')
  wait_until(function()
    return #vim.fn.complete_info({ 'items' }).items > 0
  end, 15000, 'completion items in complete_info()')
  local info = vim.fn.complete_info({ 'items', 'selected', 'mode' })
  result.items = {}
  for _, it in ipairs(info.items) do
    table.insert(result.items, { word = it.word, abbr = it.abbr })
  end
  step('menu')
  keys('<C-y>')
  sleep(150)
  keys('<Esc>')
  wait_until(function()
    return vim.fn.mode() == 'n'
  end, 3000, 'normal mode')
  sleep(200)
  result.line = api.nvim_buf_get_lines(0, row - 1, row, false)[1]
  step('accepted')
end

-- A multi-line suggestion accepted from the completion menu, as many times as it takes: a
-- client that cannot insert a line break gets the first line, then <CR> and <C-x><C-o> give the
-- rest. The file is written, so the test can read its bytes (a line break inserted as Vim's
-- completed word becomes a NUL byte there).
function scenarios.multiline_completion()
  local client = wait_for_server()
  step('attached')
  result.completion_provider = client.server_capabilities.completionProvider ~= nil
  local row = tonumber(os.getenv('DEVSTRAL_TEST_ROW'))
  local want = os.getenv('DEVSTRAL_TEST_EXPECT')
  start_insert(row)
  result.rounds = {}
  for round = 1, 4 do
    if round > 1 then
      keys('<CR>', 'nt')
      sleep(50)
    end
    local tick = api.nvim_buf_get_changedtick(0)
    keys('<C-x><C-o>')
    wait_until(function()
      return #vim.fn.complete_info({ 'items' }).items > 0
    end, 15000, 'completion items in round ' .. round)
    local items = {}
    for _, it in ipairs(vim.fn.complete_info({ 'items' }).items) do
      table.insert(items, { word = it.word, abbr = it.abbr })
    end
    keys('<C-y>')
    wait_until(function()
      return api.nvim_buf_get_changedtick(0) ~= tick and vim.fn.pumvisible() == 0
    end, 3000, 'the accepted item')
    sleep(100)
    table.insert(result.rounds, { items = items, lines = api.nvim_buf_get_lines(0, 0, -1, false) })
    if table.concat(api.nvim_buf_get_lines(0, 0, -1, false), '\n') .. '\n' == want then
      break
    end
  end
  keys('<Esc>')
  wait_until(function()
    return vim.fn.mode() == 'n'
  end, 3000, 'normal mode')
  vim.cmd('write')
  step('written')
end

-- Opens the code-action menu (on `opts.range` if given) and picks the first title with `want`.
local function pick_action(want, opts)
  result.titles = {}
  local picked = false
  vim.ui.select = function(items, sopts, on_choice)
    local choice, index
    for i, item in ipairs(items) do
      local action = item.action or item[2] or item
      local title = action.title or tostring(sopts.format_item and sopts.format_item(item))
      table.insert(result.titles, title)
      if not choice and title:find(want, 1, true) then
        choice, index = item, i
      end
    end
    picked = true
    on_choice(choice, index)
  end
  if opts and opts.range then
    if vim.fn.has('nvim-0.9') == 1 then
      vim.lsp.buf.code_action({ range = opts.range })
    else
      vim.lsp.buf.range_code_action(nil, opts.range.start, opts.range['end'])
    end
  else
    vim.lsp.buf.code_action()
  end
  wait_until(function()
    return picked
  end, 15000, 'the code action picker')
  step('picked ' .. want)
end

-- A code action (picked through a replaced vim.ui.select) applies its edit.
function scenarios.code_action()
  wait_for_server()
  step('attached')
  local row = tonumber(os.getenv('DEVSTRAL_TEST_ROW'))
  local want = os.getenv('DEVSTRAL_TEST_ACTION')
  api.nvim_win_set_cursor(0, { row, 0 })
  local tick = api.nvim_buf_get_changedtick(0)
  vim.ui.input = function(_, on_confirm)
    on_confirm(os.getenv('DEVSTRAL_TEST_INSTRUCTION') or 'do it')
  end
  pick_action(want)
  wait_until(function()
    return api.nvim_buf_get_changedtick(0) ~= tick
  end, 20000, 'the code action edit')
  sleep(100)
  step('applied')
end

-- :DevstralRewrite on a line range, the instruction typed into a replaced vim.ui.input; the
-- server's edit arrives as workspace/applyEdit.
function scenarios.rewrite()
  wait_for_server()
  step('attached')
  local tick = api.nvim_buf_get_changedtick(0)
  vim.ui.input = function(opts, on_confirm)
    result.prompt = opts.prompt
    on_confirm(os.getenv('DEVSTRAL_TEST_INSTRUCTION'))
  end
  vim.cmd(os.getenv('DEVSTRAL_TEST_RANGE') .. 'DevstralRewrite')
  wait_until(function()
    local state = require('devstral').state
    if state.status == 'error' then
      error('the server answered with an error: ' .. tostring(state.last_error))
    end
    return api.nvim_buf_get_changedtick(0) ~= tick
  end, 20000, 'the rewrite edit')
  sleep(100)
  step('applied')
end

-- Ghost text (Neovim 0.10+): appears as an extmark after typing, a word and then the rest are
-- accepted with the plugin's keys.
function scenarios.ghost()
  wait_for_server()
  step('attached')
  local ghost = require('devstral.ghost')
  local buf = api.nvim_get_current_buf()
  local row = tonumber(os.getenv('DEVSTRAL_TEST_ROW'))
  start_insert(row)
  keys(os.getenv('DEVSTRAL_TEST_TYPE') or ' ', 'nt')
  result.ghost = wait_until(function()
    return ghost.current_text(buf)
  end, 15000, 'ghost text')
  step('ghost shown')
  result.extmarks = extmarks(buf, ghost.ns)
  result.line_with_ghost = api.nvim_buf_get_lines(buf, row - 1, row, false)[1]
  if os.getenv('DEVSTRAL_TEST_WORD') ~= '0' then
  keys('<M-Right>', 'mt')
  wait_until(function()
    return api.nvim_buf_get_lines(buf, row - 1, row, false)[1] ~= result.line_with_ghost
  end, 3000, 'accept-word to insert')
  result.line_after_word = api.nvim_buf_get_lines(buf, row - 1, row, false)[1]
  result.ghost_after_word = ghost.current_text(buf)
  step('word accepted')
  end
  keys('<Tab>', 'mt')
  wait_until(function()
    return ghost.current_text(buf) == nil
  end, 3000, 'accept to insert the rest')
  sleep(50)
  result.line_accepted = api.nvim_buf_get_lines(buf, row - 1, row, false)[1]
  result.lines_accepted = api.nvim_buf_get_lines(buf, 0, -1, false)
  result.cursor = api.nvim_win_get_cursor(0)
  step('accepted')
  keys('<Esc>')
  sleep(50)
end

-- Records every message Neovim would echo (the calls that can raise "Press ENTER"), with the
-- mode it came in. vim.notify itself is left alone: the plugin treats a replaced one as a
-- notifier plugin.
local echoed = {}
local function record_echoes()
  for _, name in ipairs({ 'nvim_err_writeln', 'nvim_err_write', 'nvim_echo', 'nvim_out_write' }) do
    local real = vim.api[name]
    vim.api[name] = function(...)
      local args = { ... }
      local text = type(args[1]) == 'table' and (args[1][1] or {})[1] or args[1]
      local err = name:match('err') ~= nil or (type(args[3]) == 'table' and args[3].err == true)
      table.insert(echoed, { fn = name, mode = api.nvim_get_mode().mode, text = tostring(text), err = err })
      return real(...)
    end
  end
end

local function log_count(pattern)
  local n = 0
  for _, line in ipairs(require('devstral').state.log) do
    if line:find(pattern, 1, true) then
      n = n + 1
    end
  end
  return n
end

local function omni_items(timeout_ms)
  keys('<C-x><C-o>')
  local ok = pcall(wait_until, function()
    return #vim.fn.complete_info({ 'items' }).items > 0
  end, timeout_ms, 'completion items')
  return ok
end

-- Items 8, 9, 12, 13: a failing backend while typing never blocks a key, errors show once per
-- outage after insert mode, :DevstralStatus follows the outage and the recovery, the ghost
-- highlight has a cterm colour, :DevstralLog has each line once.
function scenarios.outage()
  wait_for_server()
  step('attached')
  record_echoes()
  local devstral = require('devstral')
  local row = tonumber(os.getenv('DEVSTRAL_TEST_ROW'))
  start_insert(row)
  keys('<C-x><C-o>')
  wait_until(function()
    return devstral.state.status == 'error'
  end, 20000, 'the error state')
  step('error')
  result.status_in_outage = devstral.status()
  keys('abc', 'nt')
  wait_until(function()
    return (api.nvim_get_current_line()):find('abc', 1, true)
  end, 3000, 'the typed keys in the buffer')
  result.mode_after_typing = api.nvim_get_mode().mode
  result.line_typed = api.nvim_get_current_line()
  -- a second failure in the same outage
  local failures = log_count('completion failed')
  keys('<C-x><C-o>')
  wait_until(function()
    return log_count('completion failed') > failures
  end, 20000, 'a second failed request')
  step('second failure')
  keys('<C-e><Esc>')
  wait_until(function()
    return vim.fn.mode() == 'n'
  end, 3000, 'normal mode')
  wait_until(function()
    for _, e in ipairs(echoed) do
      if e.err then
        return true
      end
    end
  end, 3000, 'the error shown after insert mode')
  result.status_lines_in_outage = devstral.show_status()
  -- the backend recovers
  os.remove(assert(os.getenv('DEVSTRAL_TEST_FLAG')))
  local recovered = false
  for _ = 1, 40 do
    start_insert()
    recovered = omni_items(2000)
    keys('<C-e><Esc>')
    wait_until(function()
      return vim.fn.mode() == 'n'
    end, 3000, 'normal mode')
    if recovered and devstral.state.status == 'ready' then
      break
    end
  end
  step('recovered')
  result.status_after = devstral.status()
  result.status_lines_after = devstral.show_status()
  result.echoed = echoed
  result.hl = api.nvim_get_hl_by_name('DevstralGhost', false)
  result.termguicolors = vim.o.termguicolors
  local log_buf = devstral.show_log()
  result.log_buffer = api.nvim_buf_get_lines(log_buf, 0, -1, false)
end

-- Item 11: actions from the code-action menu, as a user picks them.
function scenarios.menu_rewrite()
  wait_for_server()
  step('attached')
  local tick = api.nvim_buf_get_changedtick(0)
  vim.ui.input = function(opts, on_confirm)
    result.prompt, result.default = opts.prompt, opts.default
    on_confirm(os.getenv('DEVSTRAL_TEST_INSTRUCTION'))
  end
  pick_action('Rewrite selection', { range = { start = { 1, 0 }, ['end'] = { 2, 11 } } })
  wait_until(function()
    return api.nvim_buf_get_changedtick(0) ~= tick
  end, 20000, 'the rewrite edit')
  sleep(100)
  step('applied')
end

function scenarios.menu_edit_workspace()
  wait_for_server()
  step('attached')
  local asked = false
  vim.ui.input = function(opts, on_confirm)
    result.prompt, result.default, asked = opts.prompt, opts.default, true
    on_confirm(os.getenv('DEVSTRAL_TEST_INSTRUCTION'))
  end
  pick_action('Edit across files')
  wait_until(function()
    return asked
  end, 5000, 'the instruction prompt')
  wait_until(function()
    return log_count('devstral.editWorkspace done') > 0 or log_count('devstral.editWorkspace failed') > 0
  end, 30000, 'the edit across files to finish')
  sleep(200)
  step('done')
end

function scenarios.menu_tests()
  wait_for_server()
  step('attached')
  record_echoes()
  local src = api.nvim_get_current_buf()
  pick_action('Generate tests')
  wait_until(function()
    return api.nvim_get_current_buf() ~= src
  end, 30000, 'the generated tests shown in a window')
  sleep(100)
  result.shown_name = api.nvim_buf_get_name(0)
  result.shown_lines = api.nvim_buf_get_lines(0, 0, -1, false)
  result.windows = #api.nvim_list_wins()
  result.echoed = echoed
  step('shown')
end

-- Next edit: rename a parameter in normal mode, wait for the predicted edit to be drawn as a
-- diff, <Tab> jumps to it, <Tab> applies it.
function scenarios.next_edit()
  wait_for_server()
  local nes = require('devstral.nes')
  local buf = api.nvim_get_current_buf()
  local row = tonumber(os.getenv('DEVSTRAL_TEST_ROW') or '1')
  local word = assert(os.getenv('DEVSTRAL_TEST_WORD_AT'))
  local new = assert(os.getenv('DEVSTRAL_TEST_NEW'))
  local line = api.nvim_buf_get_lines(buf, row - 1, row, false)[1]
  local col = assert(line:find(word, 1, true), 'word not on the row') - 1
  api.nvim_win_set_cursor(0, { row, col })
  keys('ciw' .. new .. '<Esc>', 'mt')
  wait_until(function()
    return api.nvim_buf_get_lines(buf, row - 1, row, false)[1]:find(new, 1, true)
  end, 3000, 'the rename to be typed')
  step('renamed')
  result.cursor_before = api.nvim_win_get_cursor(0)
  wait_until(function()
    return nes.visible(buf)
  end, 20000, 'the next edit to be shown')
  step('next edit shown')
  result.extmarks = extmarks(buf, nes.ns)
  result.lines_shown = api.nvim_buf_get_lines(buf, 0, -1, false)
  keys('<Tab>', 'mt')
  wait_until(function()
    return api.nvim_win_get_cursor(0)[1] ~= result.cursor_before[1]
  end, 3000, 'Tab to jump to the edit')
  result.cursor_jumped = api.nvim_win_get_cursor(0)
  result.lines_after_jump = api.nvim_buf_get_lines(buf, 0, -1, false)
  step('jumped')
  keys('<Tab>', 'mt')
  wait_until(function()
    return not nes.visible(buf)
  end, 3000, 'Tab to apply the edit')
  sleep(50)
  result.lines_applied = api.nvim_buf_get_lines(buf, 0, -1, false)
  result.marks_after = #api.nvim_buf_get_extmarks(buf, nes.ns, 0, -1, {})
  step('applied')
end

co = coroutine.create(function()
  local ok, err = xpcall(assert(scenarios[scenario], 'unknown scenario ' .. scenario), debug.traceback)
  finish(ok, err)
end)
vim.defer_fn(function()
  finish(false, 'driver watchdog: the scenario did not finish in time')
end, tonumber(os.getenv('DEVSTRAL_TEST_WATCHDOG_MS') or '45000'))
vim.defer_fn(resume, 0)
