// The SQL editor's text model: lines and a cursor, and the edits the keys make. Pure, so the
// editing rules are tested without a terminal.
export interface EditorState {
  lines: string[];
  row: number;
  col: number;
}

export const emptyEditor = (text = ""): EditorState => {
  const lines = text.split("\n");
  return { lines, row: lines.length - 1, col: lines.at(-1)!.length };
};

export const textOf = (s: EditorState): string => s.lines.join("\n");

export function insert(s: EditorState, text: string): EditorState {
  const parts = text.replace(/\r\n?/g, "\n").replace(/\t/g, "  ").split("\n");
  const line = s.lines[s.row]!;
  const before = line.slice(0, s.col);
  const after = line.slice(s.col);
  const lines = s.lines.slice();
  if (parts.length === 1) {
    lines[s.row] = before + parts[0] + after;
    return { lines, row: s.row, col: s.col + parts[0]!.length };
  }
  const middle = parts.slice(1, -1);
  const last = parts.at(-1)!;
  lines.splice(s.row, 1, before + parts[0], ...middle, last + after);
  return { lines, row: s.row + parts.length - 1, col: last.length };
}

export const newline = (s: EditorState): EditorState => {
  // Keep the current line's indentation.
  const indent = s.lines[s.row]!.match(/^\s*/)![0];
  return insert(s, `\n${indent}`);
};

export function backspace(s: EditorState): EditorState {
  const lines = s.lines.slice();
  if (s.col > 0) {
    const line = lines[s.row]!;
    lines[s.row] = line.slice(0, s.col - 1) + line.slice(s.col);
    return { lines, row: s.row, col: s.col - 1 };
  }
  if (s.row === 0) return s;
  const prev = lines[s.row - 1]!;
  lines.splice(s.row - 1, 2, prev + lines[s.row]);
  return { lines, row: s.row - 1, col: prev.length };
}

export function move(s: EditorState, dir: "up" | "down" | "left" | "right" | "home" | "end"): EditorState {
  const { lines } = s;
  switch (dir) {
    case "left":
      return s.col > 0 ? { ...s, col: s.col - 1 } : s.row > 0 ? { ...s, row: s.row - 1, col: lines[s.row - 1]!.length } : s;
    case "right":
      return s.col < lines[s.row]!.length ? { ...s, col: s.col + 1 } : s.row < lines.length - 1 ? { ...s, row: s.row + 1, col: 0 } : s;
    case "up":
      return s.row > 0 ? { ...s, row: s.row - 1, col: Math.min(s.col, lines[s.row - 1]!.length) } : { ...s, col: 0 };
    case "down":
      return s.row < lines.length - 1 ? { ...s, row: s.row + 1, col: Math.min(s.col, lines[s.row + 1]!.length) } : { ...s, col: lines[s.row]!.length };
    case "home":
      return { ...s, col: 0 };
    case "end":
      return { ...s, col: lines[s.row]!.length };
  }
}
