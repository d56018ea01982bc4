-- Small helpers that paper over API differences between Neovim 0.7 and 0.12.
local M = {}

M.uv = vim.uv or vim.loop

function M.has(version)
  return vim.fn.has('nvim-' .. version) == 1
end

--- Clients by name, optionally attached to a buffer.
---@param name string
---@param bufnr integer|nil
function M.get_clients(name, bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ name = name, bufnr = bufnr })
  end
  local out = {}
  local all = bufnr and vim.lsp.buf_get_clients(bufnr) or vim.lsp.get_active_clients()
  for _, client in pairs(all) do
    if client.name == name then
      table.insert(out, client)
    end
  end
  return out
end

--- `client:request` on 0.11+, `client.request` before (the dot form is deprecated there).
function M.request(client, method, params, handler, bufnr)
  if M.has('0.11') then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

function M.cancel_request(client, id)
  if not id then
    return
  end
  if M.has('0.11') then
    pcall(client.cancel_request, client, id)
  else
    pcall(client.cancel_request, id)
  end
end

--- Handlers changed signature in 0.5.1 -> (err, result, ctx, config); 0.7 already uses it.
function M.default_handler(method)
  return vim.lsp.handlers[method]
end

--- Byte column of an LSP position on a line of the buffer.
function M.byte_col(bufnr, position, encoding)
  local ok, col = pcall(vim.lsp.util._get_line_byte_from_position, bufnr, position, encoding)
  if ok and col then
    return col
  end
  local line = vim.api.nvim_buf_get_lines(bufnr, position.line, position.line + 1, false)[1] or ''
  if encoding == 'utf-8' then
    return math.min(position.character, #line)
  end
  local okb, b = pcall(vim.str_byteindex, line, position.character, encoding == 'utf-16')
  return okb and b or #line
end

--- LSP character index of a byte column on a line.
function M.lsp_char(line, byte_col, encoding)
  if encoding == 'utf-8' then
    return byte_col
  end
  if M.has('0.11') then
    return vim.str_utfindex(line, encoding, byte_col, false)
  end
  local u32, u16 = vim.str_utfindex(line, byte_col)
  return encoding == 'utf-32' and u32 or u16
end

function M.position_params(client, win)
  win = win or 0
  return vim.lsp.util.make_position_params(win, client.offset_encoding or 'utf-16')
end

return M
