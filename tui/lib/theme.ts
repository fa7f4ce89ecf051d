// Colours by meaning, not by name: every screen asks for "danger" or "muted", and NO_COLOR (any
// non-empty value, https://no-color.org) turns them all off. Bold and inverse are not colours and
// stay, so the selection is still visible without colour.
export type Tone = "accent" | "muted" | "danger" | "warn" | "ok" | "keyword" | "string" | "number" | "comment" | "title";

const COLOURS: Record<Tone, string> = {
  accent: "cyan",
  muted: "gray",
  danger: "red",
  warn: "yellow",
  ok: "green",
  keyword: "magenta",
  string: "green",
  number: "yellow",
  comment: "gray",
  title: "cyan",
};

export const noColor = (env: NodeJS.ProcessEnv = process.env): boolean => !!env.NO_COLOR;

/** The colour for a tone, or undefined when colours are off. */
export const tone = (t: Tone): string | undefined => (noColor() ? undefined : COLOURS[t]);
