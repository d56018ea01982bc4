// A scripted client that talks to devstral-lsp the way VS Code does, on VS Code's own protocol
// library (vscode-languageserver-protocol / vscode-jsonrpc):
//   initialize with the capabilities vscode-languageclient 10 sends (vscode-capabilities.json,
//   including textDocument.inlineCompletion), initialized, didChangeConfiguration, didOpen,
//   one incremental didChange per keystroke, textDocument/inlineCompletion after each keystroke
//   with context.triggerKind Automatic (2), the stale one cancelled ($/cancelRequest) when the
//   next key comes, then an Invoked (1) request; the answer is applied like VS Code applies an
//   accepted inline suggestion. Optionally a code action is listed, resolved and applied.
//
//   node client.mjs scenario.json      (prints one JSON report on stdout; exit 0 when all passed)
//
// scenario.json: { "server": [cmd...], "root": dir, "file": path, "languageId": "python",
//   "text": "...", "settings": {...}, "typing": {"line": 1, "character": 12, "text": " +"},
//   "expectLine": "    return a + b", "codeAction": {"line": 0, "title": "docstring",
//   "expectContains": "..."}, "nextEdit": {"core": "nesCore.mjs", "edit": {"range", "text"},
//   "expectPieces": [...], "expectText": "..."}, "timeoutMs": 20000 }   (each part optional)
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as rpc from 'vscode-jsonrpc/node';
import {
  ApplyWorkspaceEditRequest,
  CodeActionRequest,
  CodeActionResolveRequest,
  CodeActionTriggerKind,
  ConfigurationRequest,
  DidChangeConfigurationNotification,
  DidChangeTextDocumentNotification,
  DidOpenTextDocumentNotification,
  ExitNotification,
  InitializeRequest,
  InitializedNotification,
  InlineCompletionRequest,
  InlineCompletionTriggerKind,
  LogMessageNotification,
  RegistrationRequest,
  ShowMessageNotification,
  ShutdownRequest,
  WorkDoneProgressCreateRequest,
} from 'vscode-languageserver-protocol/node';

const here = dirname(fileURLToPath(import.meta.url));
const scenario = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const capabilities = JSON.parse(readFileSync(join(here, 'vscode-capabilities.json'), 'utf8')).capabilities;
const report = { ok: false, checks: [], logs: [], messages: [], requests: [] };
const settings = scenario.settings ?? {};

function check(name, ok, detail) {
  report.checks.push({ name, ok: Boolean(ok), detail });
}

function done(code) {
  process.stdout.write(JSON.stringify(report) + '\n');
  process.exit(code);
}

const watchdog = setTimeout(() => {
  report.error = 'watchdog: the scenario did not finish in time';
  try {
    server.kill('SIGKILL');
  } catch {}
  done(3);
}, scenario.timeoutMs ?? 30000);

// ---- text helpers (JS strings are UTF-16, like VS Code's positions) ----
function offsetAt(text, pos) {
  const lines = text.split('\n');
  let off = 0;
  for (let i = 0; i < pos.line && i < lines.length; i++) off += lines[i].length + 1;
  return off + Math.min(pos.character, (lines[pos.line] ?? '').length);
}
function positionAt(text, offset) {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1].length };
}
function applyEdits(text, edits) {
  const sorted = [...edits].sort((a, b) => offsetAt(text, b.range.start) - offsetAt(text, a.range.start));
  for (const e of sorted) {
    text = text.slice(0, offsetAt(text, e.range.start)) + e.newText + text.slice(offsetAt(text, e.range.end));
  }
  return text;
}

// ---- the server ----
const [command, ...args] = scenario.server;
const server = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: process.env, cwd: scenario.root });
let stderr = '';
server.stderr.on('data', (d) => {
  stderr += d.toString();
});
server.on('exit', (code, signal) => {
  report.serverExit = { code, signal };
});
const connection = rpc.createMessageConnection(
  new rpc.StreamMessageReader(server.stdout),
  new rpc.StreamMessageWriter(server.stdin),
);

const uri = pathToFileURL(scenario.file).toString();
let text = scenario.text;
let version = 1;

connection.onRequest(ConfigurationRequest.type, (params) => {
  report.requests.push('workspace/configuration');
  return params.items.map((item) => (item.section === 'devstral' ? settings : null));
});
connection.onRequest(RegistrationRequest.type, () => null);
connection.onRequest(WorkDoneProgressCreateRequest.type, () => null);
connection.onRequest(ApplyWorkspaceEditRequest.type, (params) => {
  report.requests.push('workspace/applyEdit');
  applyWorkspaceEdit(params.edit);
  return { applied: true };
});
connection.onNotification(LogMessageNotification.type, (p) => report.logs.push(p.message));
connection.onNotification(ShowMessageNotification.type, (p) => report.messages.push(p.message));
connection.onNotification('$/progress', () => {});
connection.onNotification('$/logTrace', () => {});
connection.listen();

function applyWorkspaceEdit(edit) {
  const edits = [];
  for (const dc of edit.documentChanges ?? []) {
    if (dc.textDocument?.uri === uri) edits.push(...dc.edits);
  }
  if (!edit.documentChanges) edits.push(...(edit.changes?.[uri] ?? []));
  const before = text;
  text = applyEdits(text, edits);
  if (text !== before) {
    version++;
    // VS Code then tells the server about its own edit
    connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version },
      contentChanges: [{ text }],
    });
  }
}

async function inline(position, triggerKind, token) {
  return connection.sendRequest(
    InlineCompletionRequest.type,
    { textDocument: { uri }, position, context: { triggerKind, selectedCompletionInfo: undefined } },
    token,
  );
}

function applyInline(result, position) {
  const items = Array.isArray(result) ? result : result?.items ?? [];
  if (!items.length) return undefined;
  const item = items[0];
  const insert = typeof item.insertText === 'string' ? item.insertText : item.insertText.value;
  const range = item.range ?? { start: position, end: position };
  return applyEdits(text, [{ range, newText: insert }]);
}

async function main() {
  const root = scenario.root;
  const init = await connection.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    clientInfo: { name: 'Visual Studio Code', version: '1.95.0' },
    locale: 'en',
    rootPath: root,
    rootUri: pathToFileURL(root).toString(),
    capabilities,
    initializationOptions: scenario.initializationOptions ?? {},
    trace: 'off',
    workspaceFolders: [{ uri: pathToFileURL(root).toString(), name: basename(root) }],
  });
  const caps = init.capabilities;
  report.initialize = {
    inlineCompletionProvider: caps.inlineCompletionProvider ?? null,
    completionProvider: caps.completionProvider ?? null,
    codeActionProvider: caps.codeActionProvider ?? null,
    positionEncoding: caps.positionEncoding ?? null,
    executeCommandProvider: caps.executeCommandProvider ?? null,
    serverInfo: init.serverInfo ?? null,
  };
  check('server advertises inlineCompletionProvider', caps.inlineCompletionProvider);
  check('positions are UTF-16 (VS Code)', (caps.positionEncoding ?? 'utf-16') === 'utf-16', caps.positionEncoding);
  await connection.sendNotification(InitializedNotification.type, {});
  await connection.sendNotification(DidChangeConfigurationNotification.type, { settings: { devstral: settings } });
  await connection.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: scenario.languageId ?? 'python', version, text },
  });

  if (scenario.nextEdit) await nextEdit(scenario.nextEdit);
  if (scenario.typing) await typeAndComplete(scenario.typing);
  if (scenario.codeAction) await codeAction(scenario.codeAction);

  report.finalText = text;
  await connection.sendRequest(ShutdownRequest.type);
  await connection.sendNotification(ExitNotification.type);
  report.ok = report.checks.every((c) => c.ok);
}

// Next edit, as editors/vscode/src/nes.ts does it (its VS Code-free half, nesCore.ts, bundled
// by the test, decides what is drawn and what Tab does): the user's edit, the automatic
// devstral/nextEdit after the pause, Tab (jump), Tab (apply), and a stale suggestion refused.
async function nextEdit(ne) {
  const core = await import(pathToFileURL(ne.core).toString());
  const off = offsetAt(text, ne.edit.range.start);
  const end = offsetAt(text, ne.edit.range.end);
  version++;
  await connection.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version },
    contentChanges: [{ range: ne.edit.range, rangeLength: end - off, text: ne.edit.text }],
  });
  text = text.slice(0, off) + ne.edit.text + text.slice(end);
  const cursor = positionAt(text, off + ne.edit.text.length);
  const result = await connection.sendRequest('devstral/nextEdit', {
    textDocument: { uri, version },
    position: cursor,
    context: { triggerKind: 2 },
  });
  report.nextEdit = result;
  check('next edit answered for the current version', core.isCurrent(result, version), result);
  if (!core.isCurrent(result, version)) return;
  const pieces = core.present(result);
  report.nextEditPieces = pieces.map((p) => ({
    removed: text.slice(offsetAt(text, p.range.start), offsetAt(text, p.range.end)),
    added: p.text,
    line: p.range.start.line,
  }));
  check('the diff shows what is removed and added', JSON.stringify(report.nextEditPieces) ===
    JSON.stringify(ne.expectPieces), report.nextEditPieces);
  const first = core.tabAction(result, cursor);
  check('Tab away from the edit jumps to it', first.kind === 'jump' &&
    first.position.line === result.edits[0].range.start.line, first);
  const second = core.tabAction(result, first.position ?? cursor);
  check('Tab on the edit applies it', second.kind === 'apply', second);
  const applied = applyEdits(text, result.edits);
  check('applied, the file reads as expected', applied === ne.expectText, applied);
  const copilot = await connection.sendRequest('textDocument/copilotInlineEdit', {
    textDocument: { uri, version },
    position: cursor,
  });
  check('the Copilot-shaped method answers the same edit', copilot?.edits?.length === 1 &&
    applyEdits(text, [{ range: copilot.edits[0].range, newText: copilot.edits[0].text }]) === applied,
    copilot);
  text = applied;
  version++;
  await connection.sendNotification(DidChangeTextDocumentNotification.type, {
    textDocument: { uri, version },
    contentChanges: [{ text }],
  });
  await connection.sendRequest('workspace/executeCommand', {
    command: 'devstral.nextEditAccepted',
    arguments: [result.id],
  });
  check('a suggestion for an older version is never shown', !core.isCurrent(result, version));
}

async function typeAndComplete(typing) {
  // Type character by character; each keystroke triggers an automatic request and cancels the
  // previous one, as VS Code's inline suggest controller does.
  let pos = { line: typing.line, character: typing.character };
  let pending;
  const outcomes = [];
  for (const ch of typing.text) {
    if (pending) pending.source.cancel();
    const off = offsetAt(text, pos);
    version++;
    await connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version },
      contentChanges: [{ range: { start: pos, end: pos }, rangeLength: 0, text: ch }],
    });
    text = text.slice(0, off) + ch + text.slice(off);
    pos = positionAt(text, off + ch.length);
    const source = new rpc.CancellationTokenSource();
    const at = { ...pos };
    const promise = inline(at, InlineCompletionTriggerKind.Automatic, source.token).then(
      (r) => ({ result: r }),
      (e) => ({ error: { code: e.code, message: e.message } }),
    );
    pending = { source, promise, at };
    outcomes.push(promise);
    await new Promise((r) => setTimeout(r, scenario.keystrokeMs ?? 30));
  }
  const last = await pending.promise;
  const earlier = await Promise.all(outcomes.slice(0, -1));
  report.automatic = last;
  report.cancelled = earlier.map((o) => (o.error ? `error ${o.error.code}` : `result (${(o.result?.items ?? o.result ?? []).length} items)`));
  check('automatic request answered', last.result && !last.error, last.error);
  const appliedAuto = applyInline(last.result, pending.at);
  report.appliedAutomatic = appliedAuto;
  check(
    'automatic suggestion applied gives the expected line',
    appliedAuto !== undefined && appliedAuto.split('\n')[pending.at.line] === scenario.expectLine,
    appliedAuto,
  );

  // Alt+\ in VS Code: an explicitly invoked request at the same place.
  const invoked = await inline(pending.at, InlineCompletionTriggerKind.Invoked).then(
    (r) => ({ result: r }),
    (e) => ({ error: { code: e.code, message: e.message } }),
  );
  report.invoked = invoked;
  const appliedInvoked = invoked.result ? applyInline(invoked.result, pending.at) : undefined;
  check(
    'invoked suggestion applied gives the expected line',
    appliedInvoked !== undefined && appliedInvoked.split('\n')[pending.at.line] === scenario.expectLine,
    appliedInvoked,
  );
  if (appliedInvoked !== undefined) {
    // accept it: VS Code edits the document and sends the change
    text = appliedInvoked;
    version++;
    await connection.sendNotification(DidChangeTextDocumentNotification.type, {
      textDocument: { uri, version },
      contentChanges: [{ text }],
    });
  }

}

async function codeAction(ca) {
  const lineText = text.split('\n')[ca.line];
  const actions = await connection.sendRequest(CodeActionRequest.type, {
    textDocument: { uri },
    range: { start: { line: ca.line, character: 0 }, end: { line: ca.line, character: lineText.length } },
    context: { diagnostics: [], triggerKind: CodeActionTriggerKind.Invoked },
  });
  report.codeActions = (actions ?? []).map((a) => a.title);
  let action = (actions ?? []).find((a) => a.title.toLowerCase().includes(ca.title.toLowerCase()));
  check(`a code action titled like "${ca.title}"`, action, report.codeActions);
  if (action) {
    if (!action.edit && !action.command) {
      action = await connection.sendRequest(CodeActionResolveRequest.type, action);
    }
    if (action.edit) applyWorkspaceEdit(action.edit);
    if (action.command) {
      await connection.sendRequest('workspace/executeCommand', {
        command: action.command.command,
        arguments: action.command.arguments,
      });
    }
    report.afterCodeAction = text;
    check('the code action edit is applied', text.includes(ca.expectContains), text);
  }
}

main()
  .then(() => {
    clearTimeout(watchdog);
    setTimeout(() => {
      report.stderr = stderr.slice(-3000);
      done(report.ok ? 0 : 1);
    }, 200);
  })
  .catch((e) => {
    report.error = String(e?.stack ?? e);
    report.stderr = stderr.slice(-3000);
    try {
      server.kill('SIGKILL');
    } catch {}
    done(2);
  });
