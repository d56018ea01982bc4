// Devstral for VS Code: starts devstral-lsp over stdio and wires it into VS Code.
//
// Inline completions come from vscode-languageclient's InlineCompletionItemFeature (stable in
// vscode-languageclient 10, LSP 3.18): the server advertises inlineCompletionProvider and the
// client registers a VS Code InlineCompletionItemProvider for it.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import * as readline from 'readline';
import {
  CloseAction,
  DidChangeConfigurationNotification,
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
import { NextEdits } from './nes';

const SECTION = 'devstral';
const SECRET_KEY = 'devstral.apiKey';

/**
 * Settings of this extension's own that are not the server's (everything else it declares is).
 * The one list: tests/unit/test_vscode_manifest.py reads it from here.
 */
const CLIENT_ONLY_SETTINGS = new Set(['inlineCompletions', 'serverPath', 'serverArgs', 'trace.server']);

interface DeclaredSetting {
  scope?: string;
}

/**
 * The server's settings as package.json declares them (camelCase, as the server reads them).
 * One list: a setting added to package.json is forwarded without a second copy here; a unit
 * test (tests/unit/test_vscode_manifest.py) checks package.json against the server's fields.
 */
let declaredSettings: Record<string, DeclaredSetting> = {};

function serverSettingKeys(): string[] {
  return Object.keys(declaredSettings)
    .map((key) => key.slice(SECTION.length + 1))
    .filter((key) => !CLIENT_ONLY_SETTINGS.has(key));
}

let client: LanguageClient | undefined;
let status: StatusBar | undefined;
let output: vscode.LogOutputChannel | undefined;
let secrets: vscode.SecretStorage | undefined;

type Phase = 'starting' | 'ready' | 'working' | 'error' | 'paused' | 'inactive' | 'stopped' | 'off';

/** `devstral/status` (server -> client), shaped like Copilot's didChangeStatus plus `state`. */
interface ServerStatus {
  kind: 'Normal' | 'Warning' | 'Error' | 'Inactive';
  state: 'ready' | 'busy' | 'error' | 'paused' | 'inactive';
  message: string;
  busy: boolean;
}

interface UsageFigures {
  requests: number;
  tokensIn: number;
  tokensCached: number;
  tokensOut: number;
  usd: number;
  estimated: boolean;
}

/** `devstral/usage` result. */
interface Usage {
  today: UsageFigures;
  session: UsageFigures;
  dailyBudgetUsd: number | null;
  budgetReached: boolean;
}

/** The status bar item: the phase, a short detail (the error and its fix) and usage figures. */
class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private inFlight = 0;
  private phase: Phase = 'starting';
  private detail = '';
  private usage = '';
  /** Once the server sends `devstral/status`, it alone decides error and recovery. */
  serverReports = false;

  constructor() {
    this.item = vscode.window.createStatusBarItem('devstral.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Devstral';
    this.item.command = 'devstral.showOutput';
    this.set('starting');
    this.item.show();
  }

  get current(): Phase {
    return this.phase;
  }

  set(phase: Phase, detail = ''): void {
    this.phase = phase;
    this.detail = detail;
    this.render();
  }

  /** Apply the server's `devstral/status`. */
  fromServer(params: ServerStatus): void {
    this.serverReports = true;
    const phases: Record<ServerStatus['state'], Phase> = {
      ready: 'ready',
      busy: 'working',
      error: 'error',
      paused: 'paused',
      inactive: 'inactive',
    };
    this.set(phases[params.state] ?? 'ready', params.state === 'ready' ? '' : params.message ?? '');
  }

  setUsage(usage: Usage | undefined): void {
    this.usage = usage ? describeUsage(usage) : '';
    this.render();
  }

  begin(): void {
    this.inFlight++;
    this.render();
  }

  /** A request ended; `answered`: the model produced something (so the backend works). */
  end(error?: unknown, answered = false): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (!this.serverReports) {
      // An older server without devstral/status: infer error and recovery from requests.
      if (error && !isCancellation(error)) {
        this.set('error', errorMessage(error));
        return;
      }
      if (answered && this.phase === 'error') {
        this.phase = 'ready';
        this.detail = '';
      }
    }
    this.render();
  }

  private render(): void {
    const busy = (this.inFlight > 0 && this.phase === 'ready') || this.phase === 'working';
    const icons: Record<Phase, string> = {
      starting: '$(loading~spin)',
      ready: '$(sparkle)',
      working: '$(loading~spin)',
      error: '$(error)',
      paused: '$(debug-pause)',
      inactive: '$(circle-slash)',
      stopped: '$(debug-stop)',
      off: '$(circle-slash)',
    };
    const shown = busy ? 'working' : this.phase;
    this.item.text = `${icons[shown]} Devstral`;
    const lines = [`Devstral: ${shown}`];
    if (this.detail) {
      lines.push(this.detail);
    }
    if (this.usage) {
      lines.push('', this.usage);
    }
    lines.push('', 'Click to show the log.');
    this.item.tooltip = lines.join('\n');
    this.item.accessibilityInformation = { label: `Devstral ${shown}${this.detail ? ': ' + this.detail : ''}` };
    this.item.backgroundColor =
      this.phase === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : this.phase === 'paused'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

function describeUsage(u: Usage): string {
  const line = (label: string, f: UsageFigures) =>
    `${label}: ${f.requests} requests, ${f.tokensIn} tokens in (${f.tokensCached} cached), ` +
    `${f.tokensOut} out, $${f.usd.toFixed(4)}${f.estimated ? ' (estimated)' : ''}`;
  const lines = [line('Today', u.today), line('Session', u.session)];
  if (u.dailyBudgetUsd !== null && u.dailyBudgetUsd !== undefined) {
    lines.push(`Daily budget: $${u.dailyBudgetUsd.toFixed(2)}${u.budgetReached ? ' (reached: paused)' : ''}`);
  }
  return lines.join('\n');
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

/** The server command: devstral.serverPath (machine setting) or devstral-lsp on PATH.
 *
 * In a remote window (code-server, SSH, WSL, containers) the extension and the server run on
 * the remote machine, so `serverPath` is read from that machine's settings (Remote settings /
 * `<user-data-dir>/Machine/settings.json`) and must name a path there. */
function serverCommand(): { command: string; args: string[] } | { problem: string } {
  const config = vscode.workspace.getConfiguration(SECTION);
  const configured = (config.get<string>('serverPath') ?? '').trim();
  const args = config.get<string[]>('serverArgs') ?? [];
  const where = vscode.env.remoteName ? ` on the remote machine (${vscode.env.remoteName})` : '';
  if (configured) {
    try {
      fs.accessSync(configured, fs.constants.X_OK);
    } catch {
      return {
        problem:
          `devstral.serverPath is ${configured}, which is not an executable file${where}. ` +
          'Fix the path (in a remote window: in the Remote / Machine settings).',
      };
    }
    return { command: configured, args };
  }
  const found = findOnPath('devstral-lsp');
  if (!found) {
    return {
      problem:
        `devstral-lsp was not found on PATH${where}. Install it from a clone ` +
        '(`pipx install /path/to/devstral-lsp`) or set devstral.serverPath ' +
        '(in a remote window: in the Remote / Machine settings).',
    };
  }
  return { command: found, args };
}

/** The server's settings from VS Code's configuration, without empty values. */
async function serverSettings(): Promise<Record<string, unknown>> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const out: Record<string, unknown> = {};
  for (const key of serverSettingKeys()) {
    const inspected = config.inspect(key);
    // Only values someone set; the server applies its own defaults (and provider presets).
    // Application-scoped settings (keys, endpoints, budget) count only from the user's own
    // settings: VS Code never takes them from a workspace, and neither do we, defensively.
    const userOnly = declaredSettings[`${SECTION}.${key}`]?.scope === 'application';
    const value = userOnly
      ? inspected?.globalValue
      : (inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue);
    if (value !== undefined && value !== null && value !== '') {
      out[key] = value;
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

/** The server logs "LEVEL logger: message"; the output channel shows the level itself. */
const LOG_LINE = /^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ )?(DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;

function logAtLevel(level: string, text: string): void {
  switch (level) {
    case 'DEBUG':
      output?.debug(text);
      break;
    case 'WARNING':
      output?.warn(text);
      break;
    case 'ERROR':
    case 'CRITICAL':
      output?.error(text);
      break;
    default:
      output?.info(text);
  }
}

/** The server's lines come twice: on stderr and as `window/logMessage` (once connected).
 * Each text is shown once: a line is dropped when the other source showed it moments ago. */
const recentLines = new Map<string, { source: 'stderr' | 'lsp'; at: number }>();

function serverLine(source: 'stderr' | 'lsp', level: string, text: string): void {
  const now = Date.now();
  for (const [key, seen] of recentLines) {
    if (now - seen.at > 10000) {
      recentLines.delete(key);
    }
  }
  const seen = recentLines.get(text);
  if (seen && seen.source !== source) {
    recentLines.delete(text);
    return;
  }
  recentLines.set(text, { source, at: now });
  logAtLevel(level, text);
}

/** The output channel handed to the language client: `window/logMessage` lines ("INFO
 * lsp_server.x: …") are shown at their own level, once, without the level repeated. */
function clientChannel(base: vscode.LogOutputChannel): vscode.LogOutputChannel {
  const methods = new Set(['trace', 'debug', 'info', 'warn', 'error', 'appendLine']);
  return new Proxy(base, {
    get(target, prop) {
      if (typeof prop === 'string' && methods.has(prop)) {
        return (message: unknown, ...rest: unknown[]) => {
          const m = typeof message === 'string' ? LOG_LINE.exec(message) : null;
          if (m) {
            serverLine('lsp', m[1], m[2]);
          } else {
            (target as unknown as Record<string, (...a: unknown[]) => void>)[prop](message, ...rest);
          }
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function showServerMessage(type: MessageType, message: string): void {
  // Server messages often start with "Devstral:" already.
  const text = /^devstral\b/i.test(message) ? message : `Devstral: ${message}`;
  if (type === MessageType.Error) {
    void vscode.window.showErrorMessage(text, 'Show Log').then((choice) => {
      if (choice) {
        output?.show(true);
      }
    });
  } else if (type === MessageType.Warning) {
    void vscode.window.showWarningMessage(text);
  } else {
    void vscode.window.showInformationMessage(text);
  }
}

/** Crash restarts: at most MAX_RESTARTS within RESTART_WINDOW_MS, then stay stopped. */
const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60 * 1000;
let crashes: number[] = [];

let usageTimer: ReturnType<typeof setTimeout> | undefined;
/** False once the server answered that it has no `devstral/usage` (an older server). */
let usageSupported = true;

/** Ask for `devstral/usage` shortly after activity (for the status bar tooltip). */
function refreshUsageSoon(): void {
  if (usageTimer || !usageSupported) {
    return;
  }
  usageTimer = setTimeout(() => {
    usageTimer = undefined;
    const c = client;
    if (!c || !c.isRunning()) {
      return;
    }
    c.sendRequest<Usage>('devstral/usage', {}).then(
      (usage) => status?.setUsage(usage),
      (error: { code?: number }) => {
        if (error?.code === -32601) {
          usageSupported = false; // a server without devstral/usage: stop asking
        }
        status?.setUsage(undefined);
      },
    );
  }, 500);
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  const cmd = serverCommand();
  if ('problem' in cmd) {
    status?.set('error', cmd.problem);
    output?.error(cmd.problem);
    const choice = await vscode.window.showErrorMessage(`Devstral: ${cmd.problem}`, 'Open Settings', 'Show Log');
    if (choice === 'Open Settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'devstral.serverPath');
    } else if (choice === 'Show Log') {
      output?.show(true);
    }
    return;
  }
  usageSupported = true;
  output?.info(`starting ${cmd.command} ${cmd.args.join(' ')}`.trim());

  const serverOptions: ServerOptions = {
    command: cmd.command,
    args: cmd.args,
    transport: TransportKind.stdio, // vscode-languageclient appends --stdio
    options: { env: process.env },
  };

  const inlineEnabled = () => vscode.workspace.getConfiguration(SECTION).get<boolean>('inlineCompletions', true);

  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file' },
      { scheme: 'untitled' },
    ],
    outputChannel: output ? clientChannel(output) : undefined,
    initializationOptions: await serverSettings(),
    stdioOptions: {
      stdout: (input) => {
        readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on('line', (line) =>
          output?.info(line),
        );
      },
      stderr: (input) => {
        readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on('line', (line) => {
          const m = LOG_LINE.exec(line);
          if (m) {
            serverLine('stderr', m[1], m[2]);
          } else if (line.trim()) {
            output?.error(line); // a traceback or an interpreter error: not in the log stream
          }
        });
      },
    },
    initializationFailedHandler: (error) => {
      const detail = `the server did not initialize: ${errorMessage(error)}`;
      status?.set('error', `${detail}. See the log; check devstral.serverPath and devstral.serverArgs.`);
      return false;
    },
    errorHandler: {
      error: (error, _message, count) => {
        output?.error(`connection: ${errorMessage(error)}`);
        return { action: (count ?? 0) < 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
      },
      closed: () => {
        const now = Date.now();
        crashes = crashes.filter((t) => now - t < RESTART_WINDOW_MS);
        crashes.push(now);
        if (crashes.length <= MAX_RESTARTS) {
          output?.warn(`the server stopped; restarting it (${crashes.length} of ${MAX_RESTARTS})`);
          status?.set('starting', 'the server stopped; restarting');
          return { action: CloseAction.Restart, handled: true };
        }
        const message = `the server stopped ${crashes.length} times in a few minutes; see the log, then run "Devstral: Restart Server"`;
        output?.error(message);
        status?.set('error', message);
        return { action: CloseAction.DoNotRestart, message: `Devstral: ${message}` };
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
          const items = Array.isArray(result) ? result : result?.items;
          status?.end(undefined, !!items && items.length > 0);
          refreshUsageSoon();
          return result;
        } catch (error) {
          status?.end(error);
          throw error;
        }
      },
      workspace: {
        // Only the server's own settings: not inlineCompletions, serverPath, serverArgs, trace.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          const settings = await serverSettings();
          return result.map((value, i) => (params.items[i]?.section === SECTION ? settings : value));
        },
      },
    },
  };

  const c = new LanguageClient('devstral', 'Devstral', serverOptions, clientOptions);
  client = c;
  c.onNotification(ShowMessageNotification.type, (params) => {
    if (!status?.serverReports && params.type === MessageType.Error) {
      status?.set('error', params.message);
    }
    showServerMessage(params.type, params.message);
  });
  c.onNotification('devstral/status', (params: ServerStatus) => {
    firstStatus.set(c, params);
    if (!started.has(c)) {
      return; // shown once the client has registered its providers (readyOnceStarted)
    }
    status?.fromServer(params);
    refreshUsageSoon();
  });
  context.subscriptions.push(
    c.onDidChangeState((e) => {
      if (client !== c) {
        return;
      }
      if (e.newState === State.Running) {
        // Running comes as soon as `initialize` is answered, before the client registers its
        // providers: "ready" waits for the start to finish (also after a crash restart, which
        // the client runs by itself), or text typed meanwhile gets no inline completion.
        void c.start().then(() => readyOnceStarted(c), () => undefined);
      } else if (e.newState === State.Starting) {
        started.delete(c); // a crash restart: a new server, whose own first status counts
        firstStatus.delete(c);
        status?.set('starting');
      } else if (e.newState === State.Stopped && status?.current !== 'error') {
        status?.set('stopped', 'the server is not running; run "Devstral: Restart Server"');
      }
    }),
  );
  try {
    await c.start();
    readyOnceStarted(c);
    refreshUsageSoon();
  } catch (error) {
    const message =
      `the server failed to start: ${errorMessage(error)}. ` +
      `Command: ${cmd.command} ${cmd.args.join(' ')}. Check devstral.serverPath / devstral.serverArgs and the log.`;
    status?.set('error', message);
    output?.error(message);
    void vscode.window.showErrorMessage(`Devstral: ${message}`, 'Show Log', 'Open Settings').then(async (choice) => {
      if (choice === 'Show Log') {
        output?.show(true);
      } else if (choice === 'Open Settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'devstral.serverPath');
      }
    });
  }
}

/** Clients whose start finished (providers registered) since their server last started. */
const started = new WeakSet<LanguageClient>();
/** The server's last `devstral/status` since it last started. */
const firstStatus = new WeakMap<LanguageClient, ServerStatus>();

/** Whether this server sends `devstral/status`: devstral-lsp sends its first one once its own
 * start-up is over (settings pulled, file watching registered). */
function serverReportsStatus(c: LanguageClient): boolean {
  return c.initializeResult?.serverInfo?.name === 'devstral-lsp';
}

/** Show "ready" once `c` is fully started (its inline completion provider registered) and,
 * for devstral-lsp, once the server said it is ready too: a key typed while the server was
 * still finishing its start-up (registering file watching) got no inline completion. */
function readyOnceStarted(c: LanguageClient): void {
  if (client !== c || !c.isRunning()) {
    return;
  }
  started.add(c);
  if (status?.current !== 'starting' && status?.current !== 'stopped') {
    return;
  }
  const reported = firstStatus.get(c);
  if (reported) {
    status?.fromServer(reported);
  } else if (!serverReportsStatus(c)) {
    status?.set('ready'); // an older or another server: ready once the client started
  }
  // else: the server's first `devstral/status` sets it (the notification handler).
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
    void vscode.window.showErrorMessage('Devstral: the server is not running. See the Devstral log, or run "Devstral: Restart Server".');
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
    status?.end(undefined, true);
  } catch (error) {
    status?.end(error);
    if (!isCancellation(error)) {
      showServerMessage(MessageType.Error, errorMessage(error));
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
  declaredSettings = context.extension.packageJSON?.contributes?.configuration?.properties ?? {};
  context.subscriptions.push(output, status);
  const nextEdits = new NextEdits(() => client);
  context.subscriptions.push(nextEdits, ...nextEdits.register());

  context.subscriptions.push(
    vscode.commands.registerCommand('devstral.rewriteSelection', rewriteSelection),
    vscode.commands.registerCommand('devstral.editAcrossFiles', editAcrossFiles),
    vscode.commands.registerCommand('devstral.showOutput', () => output?.show(true)),
    vscode.commands.registerCommand('devstral.restartServer', async () => {
      crashes = [];
      status?.set('starting', 'restarting the server'); // not "ready" while the old one stops
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
      } else if (e.affectsConfiguration(SECTION) && client?.isRunning()) {
        // The server pulls its settings (workspace/configuration) when told they changed.
        await client.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
      }
    }),
  );

  await startClient(context);
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
