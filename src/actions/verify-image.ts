// Entry of dist/verify-image.js: the action shell around the cosign verification library.
import { verifyImageAction } from '../cosign/run.js';
import { runAction } from './run-action.js';

void runAction('verify-image', verifyImageAction);
