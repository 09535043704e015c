#!/usr/bin/env node
// meshlet's command line. Plain JS so `npx meshlet` works without a build:
// it registers tsx, then loads the TypeScript entry point.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv.slice(2));
if (code !== undefined) process.exit(code);
