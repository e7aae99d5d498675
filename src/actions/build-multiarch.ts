// Entry of dist/build-multiarch.js: the action shell around the build library.
import { runBuildMultiarch } from '../build/action.js';
import { runAction } from './run-action.js';

void runAction('build-multiarch', runBuildMultiarch);
