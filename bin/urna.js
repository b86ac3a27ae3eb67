#!/usr/bin/env node
// The `urna` command. Sources are TypeScript run through tsx, so the command
// works straight after `npm ci` with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../services/cli/main.ts');
