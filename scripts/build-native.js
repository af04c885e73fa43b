#!/usr/bin/env node
// Runs as npm's postinstall so that `npm ci` on a fresh machine, or `npm install
// -g` of a packed tarball, leaves a working tool: patched fuse-native and our
// addon (prebuilt from the tarball where they fit, otherwise built from
// source), the compiled TypeScript (compiled here in a checkout; shipped in
// dist/ by a tarball), and in a checkout the link for `npx intervmfs`. Each
// step prints what it does and stops the install with a clear message when it
// fails. Why this shape: docs/decisions/0003-patched-fuse-native.md,
// 0004-npx-without-bin-field.md and 0013-bin-field-and-prebuilds-in-the-tarball.md.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const prebuilds = require('./prebuilds');

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

function nodeGyp(cwd, extra = []) {
  const headers = path.join(nodedir, 'include', 'node', 'node_api.h');
  if (!fs.existsSync(headers)) {
    process.stderr.write(`intervmfs install: Node headers not found at ${headers}; install the nodejs development headers\n`);
    process.exit(1);
  }
  step(`compile native code in ${path.relative(root, cwd) || '.'}`, path.join(bin, 'node-gyp'),
    ['rebuild', `--nodedir=${nodedir}`, ...extra], cwd);
}

function linkCli() {
  // The checkout's own `intervmfs` in node_modules/.bin: npm scripts and a
  // shell with node_modules/.bin on PATH find it there (npx itself goes
  // through the bin field; decision 0004).
  fs.mkdirSync(bin, { recursive: true });
  const link = path.join(bin, 'intervmfs');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(path.join('..', '..', 'bin', 'intervmfs.js'), link);
  fs.chmodSync(path.join(root, 'bin', 'intervmfs.js'), 0o755);
}

const fuseNative = path.join(root, 'node_modules', 'fuse-native');
const builtAddon = path.join(root, 'build', 'Release', 'intervmfs.node');
const compiledCli = path.join(root, 'dist', 'src', 'cli', 'main.js');

function checkLoads() {
  process.stderr.write('intervmfs install: check that the patched fuse-native and our addon load\n');
  const problem = prebuilds.loadProblem();
  if (problem) {
    process.stderr.write(`intervmfs install: failed: they do not load: ${problem}\n`);
    process.exit(1);
  }
}

function buildFromSource() {
  if (prebuilds.sourceBuildForbidden()) {
    process.stderr.write('intervmfs install: a build from source is needed but INTERVMFS_PREBUILT_ONLY=1 forbids it\n');
    process.exit(1);
  }
  // Without the shipped prebuilds a failed build cannot silently fall back to the
  // unpatched addon.
  fs.rmSync(path.join(fuseNative, 'prebuilds'), { recursive: true, force: true });
  fs.rmSync(path.join(fuseNative, 'build'), { recursive: true, force: true });
  nodeGyp(fuseNative);
  // In a checkout, also the unit tests' build of the addon (binding.gyp).
  nodeGyp(root, prebuilds.isCheckout() ? ['--intervmfs_test=1'] : []);
  checkLoads();
}

/** Uses the tarball's prebuilds when they fit and load; returns false to build from source instead. */
function usePrebuilds() {
  if (prebuilds.isCheckout() || prebuilds.sourceBuildForced() || !prebuilds.fits()) return false;
  process.stderr.write(`intervmfs install: use the prebuilt binaries for ${prebuilds.tag} (no compiler needed)\n`);
  prebuilds.place();
  const problem = prebuilds.loadProblem();
  if (!problem) return true;
  process.stderr.write(`intervmfs install: the prebuilt binaries do not load here (${problem}); building from source\n`);
  return false;
}

// `npx intervmfs` in a checkout links the checkout into npx's cache the first
// time and runs this script again (npm_command=exec): the checkout was built
// by npm ci, so there is nothing to do (decision 0004).
if (process.env.npm_command === 'exec' && prebuilds.isCheckout() &&
    fs.existsSync(builtAddon) && fs.existsSync(compiledCli)) {
  process.stderr.write('intervmfs install: npx links this checkout, which npm ci built already; nothing to do\n');
  process.exit(0);
}

prebuilds.requireOwnFuseNative();
// --error-on-fail: a patch that does not apply stops the install (patch-package
// otherwise only says so and exits 0).
step('apply patches/ to fuse-native', path.join(bin, 'patch-package'), ['--error-on-fail'], root);
if (usePrebuilds()) checkLoads();
else buildFromSource();
if (prebuilds.isCheckout()) {
  if (fs.existsSync(path.join(bin, 'tsc'))) {
    step('compile TypeScript', path.join(bin, 'tsc'), ['-p', 'tsconfig.json'], root);
  } else {
    process.stderr.write('intervmfs install: typescript not installed (--omit=dev?); run `npm run build` later\n');
  }
  linkCli();
  process.stderr.write('intervmfs install: done; try `npx intervmfs --help`\n');
} else {
  // A packed tarball ships the compiled TypeScript (prepack compiles it).
  if (!fs.existsSync(compiledCli)) {
    process.stderr.write(`intervmfs install: failed: ${compiledCli} is missing; this tarball was not packed with npm pack\n`);
    process.exit(1);
  }
  process.stderr.write('intervmfs install: done; try `intervmfs --help`\n');
}
