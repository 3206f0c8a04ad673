/**
 * Loading keys named on the command line into a keyring (shared by `open` and `keys`).
 */
import { readFile } from 'node:fs/promises';
import { MemoryKeyring, SealpostError, importKeyFile, importKeyFiles, sniffKeyFile } from '../core/index.ts';

export async function readFileBytes(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new CliError(`Cannot read the ${what} "${path}": ${reason}.`);
  }
}

/** A usage or environment problem (as opposed to a SealpostError about the message or a key). */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export async function keyringFromArgs(
  keys: string[],
  trust: string[],
  passphrase?: string,
): Promise<MemoryKeyring> {
  const keyring = new MemoryKeyring();
  const files: Uint8Array[] = [];
  for (const path of keys) files.push(await readFileBytes(path, 'key file'));
  // Read together, so a PKCS#8 private key given with --key finds its certificate in another --key.
  try {
    keyring.addAll(await importKeyFiles(files, passphrase !== undefined ? { passphrase } : {}));
  } catch (e) {
    if (!(e instanceof SealpostError)) throw e;
    // Say which file: read them one by one until the culprit shows (a pairing problem names them all).
    for (const [i, path] of keys.entries()) {
      const bytes = files[i]!;
      if (sniffKeyFile(bytes) === 'pkcs8' || sniffKeyFile(bytes) === 'x509') continue;
      await importKeyFile(bytes, passphrase !== undefined ? { passphrase } : {}).catch((err: unknown) => {
        if (err instanceof SealpostError)
          throw new SealpostError(err.code, `${path}: ${err.message}`, err.details);
        throw err;
      });
    }
    throw new SealpostError(e.code, `${keys.join(', ')}: ${e.message}`, e.details);
  }
  for (const path of trust) {
    const bytes = await readFileBytes(path, 'trusted certificate or key');
    try {
      keyring.addAll(await importKeyFile(bytes, { trusted: true }));
    } catch (e) {
      if (e instanceof SealpostError) throw new SealpostError(e.code, `${path}: ${e.message}`, e.details);
      throw e;
    }
  }
  return keyring;
}
