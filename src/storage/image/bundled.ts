// Path of sharp's native addon + libvips archive embedded in a compiled `dist/plinth`. Running from
// source there is none (node_modules has @img/sharp-linux-x64); scripts/build.ts swaps this module
// for one that embeds the two packages' lib/ directories as a .tgz file asset.
export const bundledSharpArchive: string | null = null;
