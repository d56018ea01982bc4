// Next-edit suggestions in VS Code: after a pause in editing, ask the server for the edit the
// user makes next (devstral/nextEdit) and show it as an in-place diff with decorations (the text
// it removes struck through on a red background, the text it adds after it on a green one; the
// full text in the hover). Tab jumps to it when the cursor is elsewhere and applies it when the
// cursor is on it; Escape dismisses; any edit clears it. Only stable API: no proposed
// inline-edit API, so the extension can be published.
import * as vscode from 'vscode';
import { ExecuteCommandRequest, LanguageClient } from 'vscode-languageclient/node';
import { NextEditResult, Piece, isCurrent, present, tabAction } from './nesCore';

const CONTEXT_KEY = 'devstral.nextEditVisible';
const TRIGGER_INVOKED = 1;
const TRIGGER_AUTOMATIC = 2;

interface Shown {
  editor: vscode.TextEditor;
  result: NextEditResult;
}

export class NextEdits implements vscode.Disposable {
  private readonly removed = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
    textDecoration: 'line-through',
  });
  private readonly added = vscode.window.createTextEditorDecorationType({});
  private shown: Shown | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pending: vscode.CancellationTokenSource | undefined;

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly debounceMs = 500,
  ) {}

  register(): vscode.Disposable[] {
    return [
      vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e)),
      vscode.window.onDidChangeActiveTextEditor(() => this.clear()),
      vscode.commands.registerCommand('devstral.nextEdit.suggest', () => this.suggest()),
      vscode.commands.registerCommand('devstral.nextEdit.acceptOrJump', () => this.acceptOrJump()),
      vscode.commands.registerCommand('devstral.nextEdit.dismiss', () => this.clear()),
    ];
  }

  dispose(): void {
    this.clear();
    this.removed.dispose();
    this.added.dispose();
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    const editor = vscode.window.activeTextEditor;
    if (!editor || e.document !== editor.document || e.contentChanges.length === 0) {
      return;
    }
    this.clear();
    // The server decides whether a pause may ask the model (its `nextEdit` setting).
    this.timer = setTimeout(() => void this.request(editor, TRIGGER_AUTOMATIC), this.debounceMs);
  }

  async suggest(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (editor) {
      this.clear();
      await this.request(editor, TRIGGER_INVOKED);
    }
  }

  private async request(editor: vscode.TextEditor, triggerKind: number): Promise<void> {
    const c = this.client();
    if (!c || !c.isRunning() || vscode.window.activeTextEditor !== editor) {
      return;
    }
    this.pending?.cancel();
    const cts = new vscode.CancellationTokenSource();
    this.pending = cts;
    const doc = editor.document;
    const version = doc.version;
    const pos = editor.selection.active;
    let result: NextEditResult | null = null;
    try {
      result = await c.sendRequest<NextEditResult | null>(
        'devstral/nextEdit',
        {
          textDocument: { uri: doc.uri.toString(), version },
          position: { line: pos.line, character: pos.character },
          context: { triggerKind },
        },
        cts.token,
      );
    } catch {
      return; // cancelled by typing, or the server failed (it reports that itself)
    } finally {
      if (this.pending === cts) {
        this.pending = undefined;
      }
    }
    if (cts.token.isCancellationRequested || !isCurrent(result, doc.version) || !result) {
      return; // typed meanwhile: a stale edit is never shown
    }
    this.show(editor, result);
  }

  private show(editor: vscode.TextEditor, result: NextEditResult): void {
    const pieces = present(result);
    const removed: vscode.DecorationOptions[] = [];
    const added: vscode.DecorationOptions[] = [];
    for (const p of pieces) {
      const range = toRange(p);
      const hover = new vscode.MarkdownString();
      hover.appendMarkdown('**Devstral: next edit** (Tab to go there, Tab again to apply, Escape to dismiss)');
      hover.appendCodeblock(p.text || '(deletes the text)', editor.document.languageId);
      if (p.removes) {
        removed.push({ range, hoverMessage: hover });
      }
      if (p.text) {
        const more = p.moreLines > 0 ? `  ⏎ +${p.moreLines} line${p.moreLines > 1 ? 's' : ''}` : '';
        added.push({
          range: new vscode.Range(range.end, range.end),
          hoverMessage: hover,
          renderOptions: {
            after: {
              contentText: p.firstLine + more,
              backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground'),
              color: new vscode.ThemeColor('editorGhostText.foreground'),
            },
          },
        });
      }
    }
    editor.setDecorations(this.removed, removed);
    editor.setDecorations(this.added, added);
    this.shown = { editor, result };
    void vscode.commands.executeCommand('setContext', CONTEXT_KEY, true);
  }

  clear(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.pending?.cancel();
    this.pending = undefined;
    if (this.shown) {
      this.shown.editor.setDecorations(this.removed, []);
      this.shown.editor.setDecorations(this.added, []);
      this.shown = undefined;
      void vscode.commands.executeCommand('setContext', CONTEXT_KEY, false);
    }
  }

  async acceptOrJump(): Promise<void> {
    const shown = this.shown;
    const editor = vscode.window.activeTextEditor;
    if (!shown || !editor || editor !== shown.editor) {
      return;
    }
    if (!isCurrent(shown.result, editor.document.version)) {
      this.clear();
      return;
    }
    const cursor = editor.selection.active;
    const action = tabAction(shown.result, { line: cursor.line, character: cursor.character });
    if (action.kind === 'jump') {
      const at = new vscode.Position(action.position.line, action.position.character);
      editor.selection = new vscode.Selection(at, at);
      editor.revealRange(new vscode.Range(at, at), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
      return;
    }
    const result = shown.result;
    this.clear();
    const edit = new vscode.WorkspaceEdit();
    for (const e of result.edits) {
      edit.replace(editor.document.uri, toRange({ range: e.range }), e.newText);
    }
    if (await vscode.workspace.applyEdit(edit)) {
      const c = this.client();
      void c?.sendRequest(ExecuteCommandRequest.type, {
        command: 'devstral.nextEditAccepted',
        arguments: [result.id],
      });
    }
  }
}

function toRange(p: Pick<Piece, 'range'>): vscode.Range {
  const { start, end } = p.range;
  return new vscode.Range(start.line, start.character, end.line, end.character);
}
