// Builds dist/esm (import) and dist/cjs (require) from src/, so the SDK loads both ways. TypeScript comes
// from the SDK's own devDependencies, or from the service repository's when only runtime ones are installed.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync('dist', { recursive: true, force: true });
for (const project of ['tsconfig.json', 'tsconfig.cjs.json']) execFileSync(process.execPath, [tsc, '-p', project], { stdio: 'inherit' });
// The package is "type": "module"; this marks the CommonJS build as such for Node and for TypeScript.
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
