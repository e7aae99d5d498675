// Entry of dist/k3s-deploy.js: the k3s-deploy action. All logic lives in src/kube.
import { k3sDeployStep } from '../kube/action.js';
import { runAction } from './run-action.js';

void runAction('k3s-deploy', (ctx) => k3sDeployStep(ctx));
