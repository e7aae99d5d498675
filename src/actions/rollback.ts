// Entry of dist/rollback.js: the rollback action. All logic lives in src/kube.
import { rollbackStep } from '../kube/rollback-step.js';
import { runAction } from './run-action.js';

void runAction('rollback', (ctx) => rollbackStep(ctx));
