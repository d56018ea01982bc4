// Next-edit suggestions, the part without VS Code: what to draw, what <Tab> does, whether a
// suggestion still applies. Kept free of the `vscode` module so the scripted protocol client
// (tests/clients/vscode_client) runs this very code against the real server.

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

export interface NextEditResult {
  edits: { range: LspRange; newText: string }[];
  version: number;
  id: string;
}

/** One piece of the in-place diff: `range` is removed (may be empty), `text` is added there. */
export interface Piece {
  range: LspRange;
  removes: boolean;
  text: string;
  firstLine: string;
  moreLines: number;
}

export type TabAction = { kind: 'jump'; position: LspPosition } | { kind: 'apply' };

/** A result worth showing: edits, for the document version the editor has now. */
export function isCurrent(result: NextEditResult | null | undefined, version: number): boolean {
  return (
    !!result && Array.isArray(result.edits) && result.edits.length > 0 && result.version === version
  );
}

export function present(result: NextEditResult): Piece[] {
  return result.edits.map((e) => {
    const lines = e.newText.split('\n');
    const { start, end } = e.range;
    return {
      range: e.range,
      removes: start.line !== end.line || start.character !== end.character,
      text: e.newText,
      firstLine: lines[0],
      moreLines: lines.length - 1,
    };
  });
}

/** <Tab>: move to the suggestion when the cursor is not on its lines, apply it when it is. */
export function tabAction(result: NextEditResult, cursor: LspPosition): TabAction {
  const first = result.edits[0].range.start;
  const last = result.edits[result.edits.length - 1].range.end;
  if (cursor.line < first.line || cursor.line > last.line) {
    return { kind: 'jump', position: first };
  }
  return { kind: 'apply' };
}
