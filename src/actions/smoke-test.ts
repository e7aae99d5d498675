// Entry of dist/smoke-test.js: the smoke-test action. All logic lives in src/smoke.
import { smokeTestStep } from '../smoke/index.js';
import { runAction } from './run-action.js';

void runAction('smoke-test', (ctx) => smokeTestStep(ctx));
