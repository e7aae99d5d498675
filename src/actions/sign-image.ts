// Entry of dist/sign-image.js: the action shell around the cosign signing library.
import { signImageAction } from '../cosign/run.js';
import { runAction } from './run-action.js';

void runAction('sign-image', signImageAction);
