#!/usr/bin/env node
// Entry point of `intervmfs` / `npx intervmfs`: runs the compiled CLI.
'use strict';
require('../dist/src/cli/main.js').main(process.argv);
