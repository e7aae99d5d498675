// exec spawns local processes (node itself): no network, no daemons.
import { describe, expect, it } from 'vitest';
import { GantryError } from '../../src/core/errors.js';
import { CommandError, checkResult, exec, execChecked, formatCommand } from '../../src/core/exec.js';
import { Masker } from '../../src/core/mask.js';

const node = process.execPath;

describe('exec', () => {
  it('passes arguments as an array: shell metacharacters arrive literally', async () => {
    const r = await exec(node, [
      '-e',
      'console.log(JSON.stringify(process.argv.slice(1)))',
      '$(id)',
      'a;b',
      '*',
    ]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(['$(id)', 'a;b', '*']);
  });

  it('feeds stdin (the channel for secrets) and does not throw on a non-zero exit by itself', async () => {
    const r = await exec(
      node,
      [
        '-e',
        'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{console.log(s.length);process.exit(4)})',
      ],
      {
        stdin: 'hunter2-secret',
      },
    );
    expect(r.exitCode).toBe(4);
    expect(r.stdout.trim()).toBe('14');
  });

  it('raises a CommandError with command, exit code and the masked stderr tail', async () => {
    const masker = new Masker();
    masker.add('s3cr3t-token');
    const script =
      'for (let i=0;i<30;i++) console.error("line "+i); console.error("auth s3cr3t-token failed"); process.exit(3)';
    const err = await execChecked(node, ['-e', script], { masker }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    const ce = err as CommandError;
    expect(ce.code).toBe('command-failed');
    expect(ce.result.exitCode).toBe(3);
    expect(ce.message).toContain('exited with code 3');
    expect(ce.message).toContain('auth *** failed');
    expect(ce.message).not.toContain('s3cr3t-token');
    expect(ce.message).toContain('line 29');
    expect(ce.message).not.toContain('line 5\n'); // only the last 20 lines
  });

  it('caps captured stdout and reports truncation', async () => {
    const r = await exec(node, ['-e', 'process.stdout.write("x".repeat(100000))'], { maxOutputBytes: 1000 });
    expect(r.stdout.length).toBe(1000);
    expect(r.truncated).toBe(true);
  });

  it('streams masked lines to onLine', async () => {
    const masker = new Masker();
    masker.add('password123');
    const lines: string[] = [];
    await exec(node, ['-e', 'console.log("a\\nuse password123\\nc")'], {
      masker,
      onLine: (l) => lines.push(l),
    });
    expect(lines).toEqual(['a', 'use ***', 'c']);
  });

  it('kills on timeout and says so', async () => {
    const r = await exec(node, ['-e', 'setTimeout(()=>{}, 10000)'], { timeoutMs: 100 });
    expect(r.timedOut).toBe(true);
    expect(() => checkResult(r)).toThrow(/timed out/);
  });

  it('reports a missing program as an infrastructure error with a hint', async () => {
    const err = (await exec('gantry-no-such-binary', []).catch((e: unknown) => e)) as GantryError;
    expect(err).toBeInstanceOf(GantryError);
    expect(err.code).toBe('infrastructure');
    expect(err.hint).toMatch(/installed and on PATH/);
  });

  it('masks secrets in the captured stderr of the result itself, not only in error messages', async () => {
    const masker = new Masker();
    masker.add('s3cr3t-token');
    const r = await exec(node, ['-e', 'console.error("auth s3cr3t-token failed")'], { masker });
    expect(r.stderr).toBe('auth *** failed\n');
  });

  it('keeps the tail of stderr when it exceeds the cap', async () => {
    // ten separate 1000-byte writes 50 ms apart: the pipe delivers them as separate chunks
    const script =
      'let i=0;const t=setInterval(()=>{process.stderr.write(String(i).padEnd(999,".")+"\\n");if(++i===10)clearInterval(t)},50)';
    const r = await exec(node, ['-e', script], { maxOutputBytes: 2500 });
    expect(r.truncated).toBe(true);
    expect(r.stderr.length).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/^9\.+\n$/m);
    expect(r.stderr).not.toMatch(/^0\./m);
  });

  it('closes stdin when no input is given, so a program reading it does not hang', async () => {
    const r = await exec(node, ['-e', 'process.stdin.resume().on("end",()=>console.log("eof"))'], {
      timeoutMs: 5000,
    });
    expect(r.timedOut).toBe(false);
    expect(r.stdout.trim()).toBe('eof');
  });

  it('treats a timed-out command as failed even when it exits 0 on SIGTERM', async () => {
    const script = 'process.on("SIGTERM",()=>process.exit(0)); console.log("up"); setTimeout(()=>{}, 10000)';
    const r = await exec(node, ['-e', script], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(() => checkResult(r)).toThrow(/timed out/);
  });

  it('formats command lines with quoting and masking', () => {
    const m = new Masker();
    m.add('topsecret');
    expect(formatCommand('docker', ['login', '-u', 'me', 'a b', 'x=topsecret'], m)).toBe(
      "docker login -u me 'a b' x=***",
    );
  });
});
