// A list as a table: a header, rows cut to the space there is, the selected row inverse, column
// widths that fit the terminal (each column as wide as its widest visible cell, capped, then the
// widest ones shrunk until the row fits), and a left column offset for tables wider than the
// screen. Pure: the owner holds the selection and the data.
import { Box, Text } from "ink";
import { fit, width } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";

export interface Column {
  title: string;
  /** Fixed width; otherwise it fits the content (up to max). */
  width?: number;
  max?: number;
  align?: "left" | "right";
}

export interface TableProps {
  columns: Column[];
  rows: string[][];
  selected: number;
  height: number;
  width: number;
  /** First column shown (horizontal scrolling). */
  colOffset?: number;
  /** The column the cursor is on (grids), underlined in the header and the selected row. */
  activeCol?: number | null;
  rowTone?: (i: number) => string | undefined;
  empty?: string;
}

export function layoutWidths(columns: Column[], rows: string[][], total: number): number[] {
  const widths = columns.map((c, i) => c.width ?? Math.min(c.max ?? 40, Math.max(width(c.title), ...rows.map((r) => width(r[i] ?? "")), 1)));
  const gaps = Math.max(0, columns.length - 1);
  let sum = widths.reduce((a, b) => a + b, 0) + gaps;
  // Shrink the widest flexible column until the row fits (never below 6 columns of text).
  while (sum > total) {
    let widest = -1;
    widths.forEach((w, i) => {
      if (columns[i]!.width === undefined && w > 6 && (widest < 0 || w > widths[widest]!)) widest = i;
    });
    if (widest < 0) break;
    widths[widest]!--;
    sum--;
  }
  return widths;
}

export function Table({ columns, rows, selected, height, width: total, colOffset = 0, activeCol = null, rowTone, empty }: TableProps) {
  const cols = columns.slice(colOffset);
  const cut = rows.map((r) => r.slice(colOffset));
  const bodyHeight = Math.max(1, height - 1);
  const start = Math.max(0, Math.min(selected - Math.floor(bodyHeight / 2), rows.length - bodyHeight));
  const visible = cut.slice(start, start + bodyHeight);
  const widths = layoutWidths(cols, visible, total);
  const line = (cells: string[]) => cells.map((c, i) => fit(c, widths[i]!, cols[i]!.align)).join(" ");
  const header = cols.map((c, i) => fit(c.title, widths[i]!, c.align));
  return (
    <Box flexDirection="column" height={height}>
      <Text bold color={tone("title")} wrap="truncate">
        {header.map((h, i) => (
          <Text key={i} underline={activeCol !== null && activeCol - colOffset === i}>
            {h}
            {i < header.length - 1 ? " " : ""}
          </Text>
        ))}
      </Text>
      {visible.length === 0 ? <Text color={tone("muted")}>{empty ?? "(nothing here)"}</Text> : null}
      {visible.map((r, i) => {
        const index = start + i;
        const isSel = index === selected;
        if (isSel && activeCol !== null) {
          return (
            <Text key={index} wrap="truncate">
              {r.map((c, j) => (
                <Text key={j} inverse={j !== activeCol - colOffset} bold={j === activeCol - colOffset} underline={j === activeCol - colOffset}>
                  {fit(c, widths[j]!, cols[j]?.align)}
                  {j < r.length - 1 ? " " : ""}
                </Text>
              ))}
            </Text>
          );
        }
        return (
          <Text key={index} inverse={isSel} color={rowTone?.(index)} wrap="truncate">
            {line(r)}
          </Text>
        );
      })}
    </Box>
  );
}
