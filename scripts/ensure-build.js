#!/usr/bin/env node
// Builds dist/ when it is missing or older than the sources, so `npm ci && npm start` works on a fresh
// clone and after a `git pull`. Runs before every start script; a no-op when the build is current.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const entry = path.join(root, 'dist', 'main.js');

function newestMtime(target) {
  const stat = fs.statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of fs.readdirSync(target)) newest = Math.max(newest, newestMtime(path.join(target, name)));
  return newest;
}

function isStale() {
  if (!fs.existsSync(entry)) return true;
  const built = fs.statSync(entry).mtimeMs;
  const inputs = ['src', 'package.json', 'tsconfig.json', 'tsconfig.build.json'].map((p) =>
    path.join(root, p),
  );
  return inputs.some((input) => fs.existsSync(input) && newestMtime(input) > built);
}

if (isStale()) {
  console.log('Building the service (dist/ is missing or stale)…');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    console.error('Build failed; see the errors above.');
    process.exit(result.status ?? 1);
  }
  // tsc keeps outputs of deleted sources; touching the entry marks this build as current.
  const now = new Date();
  fs.utimesSync(entry, now, now);
}
