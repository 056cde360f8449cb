/**
 * `npm run lint:module-map`: the module map of docs/architecture.md names every file under src/
 * (src/generated/ excepted: its row covers the whole folder) and no file that is gone.
 *
 * A row's first cell names a folder (`sync/`, `http/routes/`) or a file (`config.ts`). A file counts as
 * listed when, in backticks, the map names its path relative to src/ anywhere, or the row of the deepest
 * folder holding it names its path relative to that folder: its basename for a file directly inside
 * (`run-sync.ts` in the `sync/` row), `graphql/gid.ts` in the `shopify/` row unless `shopify/graphql/`
 * has a row of its own.
 *
 *   tsx scripts/check-module-map.ts [--doc docs/architecture.md] [--src src]
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import { parseArgs } from 'node:util';

const SECTION = /^## Module map\b/;
const EXCLUDED = ['generated/'];

interface Row {
  /** The first cell: `sync/`, `http/routes/` or `config.ts`. */
  path: string;
  /** Everything in backticks in the row, the first cell included. */
  names: Set<string>;
}

function parseModuleMap(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => SECTION.test(line));
  if (start < 0) throw new Error('no "## Module map" section');
  const rows: Row[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) break;
    const row = /^\|\s*`([^`]+)`\s*\|/.exec(line);
    if (!row) continue;
    rows.push({ path: row[1]!, names: new Set([...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)) });
  }
  return rows;
}

/** The folder row deepest in the tree that holds `file` (a path relative to src/), if any. */
function owningRow(rows: Row[], file: string): Row | undefined {
  return rows.filter((row) => row.path.endsWith('/') && file.startsWith(row.path)).sort((a, b) => b.path.length - a.path.length)[0];
}

function unlisted(rows: Row[], files: string[]): string[] {
  const everywhere = new Set(rows.flatMap((row) => [...row.names]));
  return files.filter((file) => {
    if (everywhere.has(file)) return false;
    const row = owningRow(rows, file);
    return !row || !row.names.has(file.slice(row.path.length));
  });
}

/** Names of `.ts` files in the map that match no file: a rename or a removal the map missed. */
function stale(rows: Row[], files: string[]): string[] {
  const present = new Set(files);
  const missing: string[] = [];
  for (const row of rows) {
    const folder = row.path.endsWith('/') ? row.path : '';
    for (const name of row.names) {
      if (!name.endsWith('.ts') || /[*\s]/.test(name)) continue;
      if (!present.has(folder + name) && !present.has(name)) missing.push(`${name} (row \`${row.path}\`)`);
    }
  }
  return missing;
}

async function sourceFiles(src: string): Promise<string[]> {
  const entries = await readdir(src, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(src, join(entry.parentPath, entry.name)).split(sep).join(posix.sep))
    .filter((file) => !EXCLUDED.some((folder) => file.startsWith(folder)))
    .sort();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { doc: { type: 'string', default: 'docs/architecture.md' }, src: { type: 'string', default: 'src' } } });
  const rows = parseModuleMap(await readFile(values.doc, 'utf8'));
  const files = await sourceFiles(values.src);
  const problems = [
    ...unlisted(rows, files).map((file) => `not in the module map: src/${file}`),
    ...stale(rows, files).map((name) => `in the module map but not under ${values.src}/: ${name}`),
    ...EXCLUDED.filter((folder) => !rows.some((row) => row.path === folder)).map((folder) => `no row for the excluded folder \`${folder}\``),
  ];
  for (const folder of rows.filter((row) => row.path.endsWith('/')).map((row) => row.path)) {
    if (!existsSync(join(values.src, folder))) problems.push(`row \`${folder}\` names a folder that does not exist`);
  }
  if (problems.length > 0) {
    for (const problem of problems) console.error(problem);
    console.error(`${values.doc}: ${problems.length} problem(s); list each file in its folder's row (see the module map's rules in scripts/check-module-map.ts)`);
    process.exit(1);
  }
  console.log(`${values.doc}: the module map lists all ${files.length} files under ${values.src}/ (${EXCLUDED.join(', ')} excepted)`);
}

await main();
