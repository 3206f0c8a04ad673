#!/usr/bin/env node
// The `sealpost` command. Sealpost runs its TypeScript sources through tsx, so a user never runs a
// separate build step: `npm install` is all it takes.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
