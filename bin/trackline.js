#!/usr/bin/env node
// Runs the TypeScript CLI in this same process (tsx's loader registered in-process), so there is
// one process to signal and stop, unlike `npx tsx`, which leaves a child behind.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
