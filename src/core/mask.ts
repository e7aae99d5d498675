/**
 * Secret masking for everything gantry prints or records: a set of secret strings replaced by
 * `***` wherever they appear. Actions runners mask registered values too (`::add-mask::`), but the
 * terminal, JSON reports and error messages need it from us.
 */
export class Masker {
  private readonly secrets = new Set<string>();

  /** Registers a secret; values shorter than 3 characters are ignored (they would mask noise). */
  add(secret: string | undefined): void {
    if (!secret || secret.length < 3) return;
    this.secrets.add(secret);
    // multi-line secrets (PEM keys, kubeconfigs) are also masked line by line
    for (const line of secret.split(/\r?\n/)) if (line.trim().length >= 8) this.secrets.add(line.trim());
  }

  has(secret: string): boolean {
    return this.secrets.has(secret);
  }

  get size(): number {
    return this.secrets.size;
  }

  mask(text: string): string {
    if (this.secrets.size === 0) return text;
    let out = text;
    // longest first, so a secret containing another is replaced whole
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) {
      if (out.includes(s)) out = out.split(s).join('***');
    }
    return out;
  }
}
