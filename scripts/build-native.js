#!/usr/bin/env node
// Runs as npm's postinstall so that `npm ci` on a fresh machine leaves a working
// tool: patched fuse-native built from source, our addon, the compiled
// TypeScript, and `npx intervmfs`. Each step prints what it does and stops the
// install with a clear message when it fails. Why this shape: docs/decisions/
// 0003-patched-fuse-native.md and 0004-npx-without-bin-field.md.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'node_modules', '.bin');
// Node's own headers: node-gyp would otherwise download them, and only the npm
// registry is reachable from the machines we target.
const nodedir = path.resolve(process.execPath, '..', '..');

function step(title, command, args, cwd) {
  process.stderr.write(`intervmfs install: ${title}\n`);
  const result = spawnSync(command, args, { cwd, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`intervmfs install: failed: ${title} (${command} ${args.join(' ')})\n`);
    process.exit(1);
  }
}

function nodeGyp(cwd) {
  const headers = path.join(nodedir, 'include', 'node', 'node_api.h');
  if (!fs.existsSync(headers)) {
    process.stderr.write(`intervmfs install: Node headers not found at ${headers}; install the nodejs development headers\n`);
    process.exit(1);
  }
  step(`compile native code in ${path.relative(root, cwd) || '.'}`, path.join(bin, 'node-gyp'),
    ['rebuild', `--nodedir=${nodedir}`], cwd);
}

function linkCli() {
  // npm 11's npx cannot run a bin of the root package itself (decision 0004),
  // so we provide the link that `npx intervmfs` finds.
  fs.mkdirSync(bin, { recursive: true });
  const link = path.join(bin, 'intervmfs');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.join('..', '..', 'bin', 'intervmfs.js'), link);
  fs.chmodSync(path.join(root, 'bin', 'intervmfs.js'), 0o755);
}

const fuseNative = path.join(root, 'node_modules', 'fuse-native');
// --error-on-fail: a patch that does not apply stops the install (patch-package
// otherwise only says so and exits 0).
step('apply patches/ to fuse-native', path.join(bin, 'patch-package'), ['--error-on-fail'], root);
// Without the shipped prebuilds a failed build cannot silently fall back to the
// unpatched addon.
fs.rmSync(path.join(fuseNative, 'prebuilds'), { recursive: true, force: true });
fs.rmSync(path.join(fuseNative, 'build'), { recursive: true, force: true });
nodeGyp(fuseNative);
step('check that the patched fuse-native loads', process.execPath, ['-e', `
  const p = require('node-gyp-build').path(${JSON.stringify(fuseNative)});
  if (!p.endsWith('build/Release/fuse.node')) throw new Error('fuse-native would load ' + p);
  require(${JSON.stringify(fuseNative)});`], root);
nodeGyp(root);
if (fs.existsSync(path.join(bin, 'tsc'))) {
  step('compile TypeScript', path.join(bin, 'tsc'), ['-p', 'tsconfig.json'], root);
} else {
  process.stderr.write('intervmfs install: typescript not installed (--omit=dev?); run `npm run build` later\n');
}
linkCli();
process.stderr.write('intervmfs install: done; try `npx intervmfs --help`\n');
