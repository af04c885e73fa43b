#!/usr/bin/env node
// Prebuilt binaries inside the packed tarball, so that a machine without a
// compiler can install intervmfs (decision 0013-bin-field-and-prebuilds-in-the-tarball.md).
//
//   node scripts/prebuilds.js prepack     after tsc: drop compiled files of deleted sources from
//                                         dist/src/, copy this checkout's binaries into prebuilds/<tag>/
//   node scripts/prebuilds.js clean       postpack: remove prebuilds/ from the checkout again
//   node scripts/prebuilds.js preinstall  npm preinstall of an installed package: put a fitting
//                                         patched fuse.node in place before fuse-native's own
//                                         install script runs, so that it compiles nothing
//
// <tag> is linux-x64-node115: platform, architecture and Node's module ABI. A
// prebuild is used only where all three match and it loads; otherwise the
// postinstall builds from source as before (scripts/build-native.js). A source
// checkout (tsconfig.json present) always builds from source.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const fuseNative = path.join(root, 'node_modules', 'fuse-native');
const tag = `${process.platform}-${process.arch}-node${process.versions.modules}`;
const prebuildsDir = path.join(root, 'prebuilds');
const prebuildDir = path.join(prebuildsDir, tag);

// Where each prebuilt file comes from and goes back to.
const FILES = [
  { name: 'intervmfs.node', dir: path.join(root, 'build', 'Release') },
  { name: 'intervmfs-peer', dir: path.join(root, 'build', 'Release') },
  { name: 'intervmfs-cref', dir: path.join(root, 'build', 'Release') },
  // The C library (native/intervmfs.h) and its example program.
  { name: 'libintervmfs.a', dir: path.join(root, 'build', 'Release') },
  { name: 'intervmfs-cat', dir: path.join(root, 'build', 'Release') },
  // The patched fuse-native, and the libfuse it finds next to itself (rpath $ORIGIN).
  { name: 'fuse.node', dir: path.join(fuseNative, 'build', 'Release'), fuse: true },
  { name: 'libfuse.so.2', dir: path.join(fuseNative, 'build', 'Release'), fuse: true },
];

const stage = require.main === module && ['prepack', 'save', 'clean'].includes(process.argv[2]) ? 'pack' : 'install';

function say(text) {
  process.stderr.write(`intervmfs ${stage}: ${text}\n`);
}

/** A source checkout, as opposed to an installed package (which has no tsconfig.json). */
function isCheckout() {
  return fs.existsSync(path.join(root, 'tsconfig.json'));
}

/** `npm install --build-from-source` (npm_config_build_from_source) or INTERVMFS_BUILD_FROM_SOURCE=1. */
function sourceBuildForced() {
  return process.env.npm_config_build_from_source === 'true' || process.env.INTERVMFS_BUILD_FROM_SOURCE === '1';
}

/** INTERVMFS_PREBUILT_ONLY=1: fail rather than compile (to test a machine without a compiler). */
function sourceBuildForbidden() {
  return process.env.INTERVMFS_PREBUILT_ONLY === '1';
}

function available() {
  return fs.existsSync(prebuildsDir) ? fs.readdirSync(prebuildsDir) : [];
}

/** Whether this package carries a complete prebuild for this platform, architecture and ABI. */
function fits() {
  return FILES.every((f) => fs.existsSync(path.join(prebuildDir, f.name)));
}

function copy(from, to) {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.rmSync(to, { force: true });
  fs.copyFileSync(from, to);
  fs.chmodSync(to, 0o755);
}

/** Puts the prebuilt fuse-native (fuse: true) or all prebuilt files where a source build leaves them. */
function place({ fuseOnly = false } = {}) {
  // fuse-native's own prebuilds are unpatched; without them nothing can load them instead.
  fs.rmSync(path.join(fuseNative, 'prebuilds'), { recursive: true, force: true });
  for (const f of FILES) {
    if (fuseOnly && !f.fuse) continue;
    copy(path.join(prebuildDir, f.name), path.join(f.dir, f.name));
  }
}

/** Loads the patched fuse-native and our addon in a child process; returns why not, or undefined. */
function loadProblem() {
  const check = `
    const p = require('node-gyp-build').path(${JSON.stringify(fuseNative)});
    if (!p.endsWith('build/Release/fuse.node')) throw new Error('fuse-native would load ' + p);
    const fuse = require(${JSON.stringify(fuseNative)});
    if (typeof fuse !== 'function') throw new Error('fuse-native did not load');
    require(${JSON.stringify(path.join(root, 'build', 'Release', 'intervmfs.node'))});`;
  const r = spawnSync(process.execPath, ['-e', check], { cwd: root, encoding: 'utf8' });
  if (r.status === 0) return undefined;
  return (r.stderr || '').split('\n').find((l) => /Error/.test(l)) || `exit ${r.status}`;
}

function hasCompiler() {
  const onPath = (cmd) =>
    (process.env.PATH || '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, cmd)));
  return ['g++', 'make'].every(onPath) && (onPath('python3') || onPath('python'));
}

function save() {
  const missing = FILES.filter((f) => !fs.existsSync(path.join(f.dir, f.name)));
  if (missing.length) {
    say(`cannot pack: ${missing.map((f) => path.join(f.dir, f.name)).join(', ')} missing; run npm ci first`);
    process.exit(1);
  }
  const problem = loadProblem();
  if (problem) {
    say(`cannot pack: the built binaries do not load (${problem}); run npm ci first`);
    process.exit(1);
  }
  fs.rmSync(prebuildsDir, { recursive: true, force: true });
  for (const f of FILES) copy(path.join(f.dir, f.name), path.join(prebuildDir, f.name));
  say(`prebuilds/${tag}/: ${FILES.map((f) => f.name).join(', ')}`);
}

/** Stops with a message when npm did not install fuse-native inside this package (a local, hoisted install). */
function requireOwnFuseNative() {
  if (fs.existsSync(path.join(fuseNative, 'package.json'))) return;
  say(`${fuseNative} is missing: npm put fuse-native elsewhere (a local install into another project?). ` +
    'Install intervmfs globally (npm install -g intervmfs-<version>.tgz) or on its own (npm install in its folder), ' +
    'so that patches/ applies to its own copy of fuse-native');
  process.exit(1);
}

/** Removes dist/src files whose TypeScript source is gone (tsc only adds and overwrites). */
function pruneDist() {
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
  const dist = path.join(root, 'dist', 'src');
  if (!fs.existsSync(dist)) {
    say('cannot pack: dist/src is missing; run npm run build');
    process.exit(1);
  }
  for (const file of walk(dist)) {
    const source = path.join(root, 'src', path.relative(dist, file)).replace(/\.(js|js\.map|d\.ts)$/, '.ts');
    if (!fs.existsSync(source)) {
      fs.rmSync(file);
      say(`removed ${path.relative(root, file)} (its source is gone)`);
    }
  }
}

function preinstall() {
  if (isCheckout() || sourceBuildForced()) return;
  requireOwnFuseNative();
  if (fits()) {
    place({ fuseOnly: true });
    say(`prebuilt fuse-native for ${tag} put in place`);
    return;
  }
  const have = available().join(', ') || 'none';
  if (sourceBuildForbidden() || !hasCompiler()) {
    say(`this package has no prebuilt binaries for ${tag} (it has: ${have}), and a build from source ` +
      `needs g++, make and python3${sourceBuildForbidden() ? ' (forbidden by INTERVMFS_PREBUILT_ONLY=1)' : ', which are not all on PATH'}; ` +
      'install them (Debian: apt-get install g++ make python3) or use a tarball packed with this Node version');
    process.exit(1);
  }
  say(`no prebuilt binaries for ${tag} (this package has: ${have}); building from source`);
}

module.exports = { tag, isCheckout, requireOwnFuseNative, hasCompiler, sourceBuildForced, sourceBuildForbidden, fits, place, loadProblem, available };

if (require.main === module) {
  const command = process.argv[2];
  if (command === 'prepack') {
    pruneDist();
    save();
  } else if (command === 'save') save();
  else if (command === 'clean') fs.rmSync(prebuildsDir, { recursive: true, force: true });
  else if (command === 'preinstall') preinstall();
  else {
    process.stderr.write('usage: node scripts/prebuilds.js prepack|save|clean|preinstall\n');
    process.exit(64);
  }
}
