// Every ```ts block of README.md type-checks against the sources, the way a user's code would see
// the package: 'tessera' and its subpaths resolve to the src/ files package.json exports point at.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const packageJson = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | { types?: string; default?: string }>;
};

/**
 * Names README examples take for granted (defined by an earlier block, or obviously the reader's),
 * declared once for every block. A block that defines one of them shadows it.
 */
const preamble = `
import type { Express } from 'express';
import type { FastifyInstance } from 'fastify';
import type { Hono } from 'hono';
import type { Redis as IORedis } from 'ioredis';
import type { SignJWT as JoseSignJWT, exportJWK as joseExportJWK } from 'jose';
import type * as tessera from 'tessera';
import type { AccessTokenVerifier } from 'tessera/resource-server';

declare global {
  const issuer: string;
  const provider: tessera.Provider;
  const handler: tessera.HttpHandler;
  const createRouter: typeof tessera.createRouter;
  const storage: tessera.Storage;
  const store: tessera.Storage;
  const strategy: tessera.AccessTokenStrategy;
  const opaqueHmacStrategy: typeof tessera.opaqueHmacStrategy;
  const currentSecret: string;
  const previousSecret: string;
  type Client = tessera.Client;
  const exportJWK: typeof joseExportJWK;
  const SignJWT: typeof JoseSignJWT;
  const publicKey: CryptoKey;
  const privateKey: CryptoKey;
  const token: string;
  const audience: string;
  const jwksUri: string;
  const verifier: AccessTokenVerifier;
  const app: Express;
  const fastify: FastifyInstance;
  const hono: Hono;
  const Redis: typeof IORedis;
}
export {};
`;

interface Block {
  /** README line of the opening fence. */
  readonly line: number;
  readonly code: string;
}

function tsBlocks(): Block[] {
  const blocks: Block[] = [];
  const lines = readme.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*```ts\s*$/.test(lines[i]!)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ line: start + 1, code: body.join('\n') });
  }
  return blocks;
}

/** 'tessera' and 'tessera/<subpath>' → the src/ file behind the dist/ file package.json exports. */
function exportPaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(packageJson.exports)) {
    const target = typeof value === 'string' ? value : value.default;
    if (!target?.endsWith('.js')) continue;
    const source = path.join(root, target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'));
    expect(existsSync(source), `package.json exports ${key} → ${target}, but ${source} is missing`).toBe(true);
    paths[key === '.' ? packageJson.name : `${packageJson.name}/${key.slice(2)}`] = [source];
  }
  return paths;
}

function compilerOptions(): ts.CompilerOptions {
  const configFile = path.join(root, 'tsconfig.json');
  const { config, error } = ts.readConfigFile(configFile, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    (config as { compilerOptions: unknown }).compilerOptions,
    root,
    configFile,
  );
  if (errors.length > 0)
    throw new Error(errors.map((e) => ts.flattenDiagnosticMessageText(e.messageText, '\n')).join('\n'));
  return {
    ...options,
    strict: true,
    noEmit: true,
    declaration: false,
    sourceMap: false,
    outDir: undefined,
    paths: exportPaths(),
  };
}

const blocks = tsBlocks();
// Virtual files inside the project (never written), so packages resolve from its node_modules and
// its package.json makes them ES modules (top-level await).
const virtualDir = path.join(root, 'test', 'docs', '.readme-examples');
const preambleFile = path.join(virtualDir, 'preamble.ts');
const blockFile = (block: Block): string => path.join(virtualDir, `readme-line-${block.line}.ts`);

/** Diagnostic texts per virtual file, as `README.md:<line>: <message>`. */
let diagnostics: Map<string, string[]>;

function typeCheck(checked: readonly Block[]): Map<string, string[]> {
  const files = new Map<string, { text: string; firstLine: number }>([
    [preambleFile, { text: preamble, firstLine: 0 }],
  ]);
  for (const block of checked)
    files.set(blockFile(block), { text: `${block.code}\nexport {};\n`, firstLine: block.line + 1 });

  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const { fileExists, readFile, getSourceFile } = host;
  host.getCurrentDirectory = () => root;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name)?.text ?? readFile.call(host, name);
  host.getSourceFile = (name, languageVersion, ...rest) => {
    const file = files.get(name);
    return file
      ? ts.createSourceFile(name, file.text, languageVersion, true)
      : getSourceFile.call(host, name, languageVersion, ...rest);
  };
  const program = ts.createProgram({ rootNames: [...files.keys()], options, host });

  const found = new Map<string, string[]>([...files.keys()].map((name) => [name, []]));
  const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const diagnostic of global)
    found.get(preambleFile)!.push(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
  for (const [name, { firstLine }] of files) {
    const sourceFile = program.getSourceFile(name)!;
    for (const diagnostic of [
      ...program.getSyntacticDiagnostics(sourceFile),
      ...program.getSemanticDiagnostics(sourceFile),
    ]) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      const line = sourceFile.getLineAndCharacterOfPosition(diagnostic.start ?? 0).line;
      const where = name === preambleFile ? `preamble line ${line + 1}` : `README.md:${firstLine + line}`;
      found.get(name)!.push(`${where}: TS${diagnostic.code}: ${message}`);
    }
  }
  return found;
}

describe('README ts examples', () => {
  beforeAll(() => {
    diagnostics = typeCheck(blocks);
  });

  it('finds the ts blocks', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(16);
  });

  it('declares only preamble names some block uses', () => {
    const names = [...preamble.matchAll(/^ {2}(?:const|type) (\w+)/gm)].map((match) => match[1]!);
    const unused = names.filter((name) => !blocks.some((block) => new RegExp(`\\b${name}\\b`).test(block.code)));
    expect(unused).toEqual([]);
  });

  it('type-checks the shared preamble', () => {
    expect(diagnostics.get(preambleFile)).toEqual([]);
  });

  for (const block of blocks) {
    it(`type-checks the block at README line ${block.line}`, () => {
      const found = diagnostics.get(blockFile(block)) ?? [];
      expect(found, `README.md:${block.line}: the ts block does not type-check:\n${found.join('\n')}`).toEqual([]);
    });
  }
});
