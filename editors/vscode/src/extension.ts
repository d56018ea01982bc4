// Devstral for VS Code: starts devstral-lsp over stdio and wires it into VS Code.
//
// Inline completions come from vscode-languageclient's InlineCompletionItemFeature (stable in
// vscode-languageclient 10, LSP 3.18): the server advertises inlineCompletionProvider and the
// client registers a VS Code InlineCompletionItemProvider for it.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  MessageType,
  ServerOptions,
  ShowMessageNotification,
  State,
  TransportKind,
} from 'vscode-languageclient/node';

const SECTION = 'devstral';
const SECRET_KEY = 'devstral.apiKey';

/** Settings forwarded to the server (camelCase, as the server reads them). */
const SERVER_SETTINGS = [
  'provider',
  'baseUrl',
  'model',
  'apiKey',
  'promptMode',
  'temperature',
  'maxTokens',
  'timeoutMs',
  'debounceMs',
  'completionItems',
  'contextTokens',
  'logLevel',
] as const;

let client: LanguageClient | undefined;
let status: StatusBar | undefined;
let output: vscode.LogOutputChannel | undefined;
let secrets: vscode.SecretStorage | undefined;

type Phase = 'starting' | 'ready' | 'working' | 'error' | 'stopped' | 'off';

class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private inFlight = 0;
  private phase: Phase = 'starting';
  private detail = '';

  constructor() {
    this.item = vscode.window.createStatusBarItem('devstral.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Devstral';
    this.item.command = 'devstral.showOutput';
    this.set('starting');
    this.item.show();
  }

  set(phase: Phase, detail = ''): void {
    this.phase = phase;
    this.detail = detail;
    this.render();
  }

  begin(): void {
    this.inFlight++;
    this.render();
  }

  end(error?: unknown): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (error && !isCancellation(error)) {
      this.set('error', errorMessage(error));
      return;
    }
    if (!error && this.phase === 'error' && this.detail.startsWith('request failed')) {
      this.phase = 'ready';
    }
    this.render();
  }

  private render(): void {
    const busy = this.inFlight > 0 && this.phase !== 'error';
    const icons: Record<Phase, string> = {
      starting: '$(loading~spin)',
      ready: '$(sparkle)',
      working: '$(loading~spin)',
      error: '$(error)',
      stopped: '$(debug-stop)',
      off: '$(circle-slash)',
    };
    this.item.text = `${busy ? '$(loading~spin)' : icons[this.phase]} Devstral`;
    const lines = [`Devstral: ${busy ? 'working' : this.phase}`];
    if (this.detail) {
      lines.push(this.detail);
    }
    lines.push('Click to show the log.');
    this.item.tooltip = lines.join('\n');
    this.item.backgroundColor =
      this.phase === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

function isCancellation(error: unknown): boolean {
  const e = error as { code?: number; name?: string } | undefined;
  return e?.code === -32800 || e?.name === 'Canceled' || e instanceof vscode.CancellationError;
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  const e = error as { message?: string } | undefined;
  return e?.message ?? String(error);
}

function findOnPath(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        return candidate;
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** The server command: devstral.serverPath (machine setting) or devstral-lsp on PATH. */
function serverCommand(): { command: string; args: string[] } | undefined {
  const config = vscode.workspace.getConfiguration(SECTION);
  const configured = (config.get<string>('serverPath') ?? '').trim();
  const args = config.get<string[]>('serverArgs') ?? [];
  if (configured) {
    return { command: configured, args };
  }
  const found = findOnPath('devstral-lsp');
  return found ? { command: found, args } : undefined;
}

/** The server's settings from VS Code's configuration, without empty values. */
async function serverSettings(): Promise<Record<string, unknown>> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const out: Record<string, unknown> = {};
  for (const key of SERVER_SETTINGS) {
    const inspected = config.inspect(key);
    // Only values someone set; the server applies its own defaults (and provider presets).
    const value =
      inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
    if (value !== undefined && value !== null && value !== '') {
      out[key] = value;
    }
  }
  // application-scoped settings never come from a workspace; drop them defensively anyway
  for (const key of ['apiKey', 'baseUrl', 'provider']) {
    const inspected = config.inspect(key);
    if (inspected?.globalValue !== undefined && inspected.globalValue !== '') {
      out[key] = inspected.globalValue;
    } else {
      delete out[key];
    }
  }
  if (!out.apiKey && secrets) {
    const stored = await secrets.get(SECRET_KEY);
    if (stored) {
      out.apiKey = stored;
    }
  }
  return out;
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const cmd = serverCommand();
  if (!cmd) {
    status?.set('error', 'devstral-lsp not found');
    const choice = await vscode.window.showErrorMessage(
      'Devstral: the `devstral-lsp` server was not found on PATH. Install it with `pip install devstral-lsp` or set `devstral.serverPath`.',
      'Open Settings',
    );
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'devstral.serverPath');
    }
    return;
  }
  output?.info(`starting ${cmd.command} ${cmd.args.join(' ')}`);

  const serverOptions: ServerOptions = {
    command: cmd.command,
    args: cmd.args,
    transport: TransportKind.stdio,
    options: { env: process.env },
  };

  const inlineEnabled = () => vscode.workspace.getConfiguration(SECTION).get<boolean>('inlineCompletions', true);

  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file' },
      { scheme: 'untitled' },
    ],
    outputChannel: output,
    initializationOptions: await serverSettings(),
    synchronize: { configurationSection: SECTION },
    initializationFailedHandler: (error) => {
      status?.set('error', `initialize failed: ${errorMessage(error)}`);
      return false;
    },
    errorHandler: {
      error: (error, _message, count) => {
        status?.set('error', errorMessage(error));
        return { action: (count ?? 0) < 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
      },
      closed: () => {
        status?.set('error', 'the server stopped');
        return { action: CloseAction.DoNotRestart };
      },
    },
    middleware: {
      provideInlineCompletionItems: async (document, position, ctx, token, next) => {
        if (!inlineEnabled()) {
          return undefined;
        }
        status?.begin();
        try {
          const result = await next(document, position, ctx, token);
          status?.end();
          return result;
        } catch (error) {
          status?.end(error);
          throw error;
        }
      },
      workspace: {
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          const settings = await serverSettings();
          return result.map((value, i) =>
            params.items[i]?.section === SECTION ? { ...(value ?? {}), ...settings } : value,
          );
        },
      },
    },
  };

  client = new LanguageClient('devstral', 'Devstral', serverOptions, clientOptions);
  context.subscriptions.push(
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) {
        status?.set('ready');
      } else if (e.newState === State.Starting) {
        status?.set('starting');
      } else if (e.newState === State.Stopped) {
        status?.set('stopped');
      }
    }),
  );
  try {
    await client.start();
    // The server reports backend failures with window/showMessage; show them with a way to
    // the log, and put the status bar into the error state.
    client.onNotification(ShowMessageNotification.type, (params) => {
      output?.appendLine(`[message] ${params.message}`);
      if (params.type === MessageType.Error) {
        status?.set('error', params.message);
        void vscode.window.showErrorMessage(`Devstral: ${params.message}`, 'Show Log').then((choice) => {
          if (choice) {
            output?.show(true);
          }
        });
      } else if (params.type === MessageType.Warning) {
        void vscode.window.showWarningMessage(`Devstral: ${params.message}`);
      } else {
        void vscode.window.showInformationMessage(`Devstral: ${params.message}`);
      }
    });
    status?.set('ready');
  } catch (error) {
    status?.set('error', errorMessage(error));
    output?.error(`failed to start the server: ${errorMessage(error)}`);
  }
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) {
    try {
      await c.stop();
    } catch (error) {
      output?.warn(`stopping the server: ${errorMessage(error)}`);
    }
  }
}

async function runServerCommand(command: string, argument: unknown, title: string): Promise<void> {
  if (!client || !client.isRunning()) {
    void vscode.window.showErrorMessage('Devstral: the server is not running. See the Devstral log.');
    return;
  }
  const c = client;
  status?.begin();
  try {
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title, cancellable: true },
      (_progress, token) =>
        c.sendRequest(ExecuteCommandRequest.type, { command, arguments: [argument] }, token),
    );
    status?.end();
  } catch (error) {
    status?.end(error);
    if (!isCancellation(error)) {
      void vscode.window.showErrorMessage(`Devstral: ${errorMessage(error)}`, 'Show Log').then((choice) => {
        if (choice) {
          output?.show(true);
        }
      });
    }
  }
}

function toLspRange(range: vscode.Range) {
  return {
    start: { line: range.start.line, character: range.start.character },
    end: { line: range.end.line, character: range.end.character },
  };
}

async function rewriteSelection(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    return;
  }
  let range: vscode.Range = editor.selection;
  if (editor.selection.isEmpty) {
    range = editor.document.lineAt(editor.selection.active.line).range;
  }
  const instruction = await vscode.window.showInputBox({
    title: 'Devstral: Rewrite Selection',
    prompt: 'How should the selected code change?',
    placeHolder: 'e.g. use a dict comprehension',
    ignoreFocusOut: true,
  });
  if (!instruction) {
    return;
  }
  await runServerCommand(
    'devstral.rewrite',
    { uri: editor.document.uri.toString(), range: toLspRange(range), instruction },
    'Devstral: rewriting…',
  );
}

async function editAcrossFiles(): Promise<void> {
  const instruction = await vscode.window.showInputBox({
    title: 'Devstral: Edit Across Files',
    prompt: 'What should change in the workspace?',
    placeHolder: 'e.g. rename the config field `timeout` to `timeout_ms` everywhere',
    ignoreFocusOut: true,
  });
  if (!instruction) {
    return;
  }
  const editor = vscode.window.activeTextEditor;
  const argument: Record<string, unknown> = { instruction };
  if (editor) {
    argument.uri = editor.document.uri.toString();
    if (!editor.selection.isEmpty) {
      argument.range = toLspRange(editor.selection);
    }
  }
  await runServerCommand('devstral.editWorkspace', argument, 'Devstral: editing the workspace…');
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('Devstral', { log: true });
  status = new StatusBar();
  secrets = context.secrets;
  context.subscriptions.push(output, status);

  context.subscriptions.push(
    vscode.commands.registerCommand('devstral.rewriteSelection', rewriteSelection),
    vscode.commands.registerCommand('devstral.editAcrossFiles', editAcrossFiles),
    vscode.commands.registerCommand('devstral.showOutput', () => output?.show(true)),
    vscode.commands.registerCommand('devstral.restartServer', async () => {
      await stopClient();
      await startClient(context);
    }),
    vscode.commands.registerCommand('devstral.toggleInlineCompletions', async () => {
      const config = vscode.workspace.getConfiguration(SECTION);
      const next = !config.get<boolean>('inlineCompletions', true);
      await config.update('inlineCompletions', next, vscode.ConfigurationTarget.Global);
      status?.set(next ? 'ready' : 'off', next ? '' : 'inline completions are off');
    }),
    vscode.commands.registerCommand('devstral.setApiKey', async () => {
      const key = await vscode.window.showInputBox({
        title: 'Devstral: API Key',
        prompt: 'Stored in VS Code secret storage (leave empty to remove it).',
        password: true,
        ignoreFocusOut: true,
      });
      if (key === undefined) {
        return;
      }
      if (key) {
        await context.secrets.store(SECRET_KEY, key);
      } else {
        await context.secrets.delete(SECRET_KEY);
      }
      await stopClient();
      await startClient(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('devstral.serverPath') || e.affectsConfiguration('devstral.serverArgs')) {
        await stopClient();
        await startClient(context);
      }
    }),
  );

  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
