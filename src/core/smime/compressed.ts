/** CMS CompressedData (RFC 3274): zlib, inflated within the decompression limits. */
import { Unzlib } from 'fflate';
import { concatBytes } from '../bytes.ts';
import type { OpenContext } from '../context.ts';
import { SealpostError, limitExceeded } from '../errors.ts';
import { CONTEXT, T, UNIVERSAL, algorithm, children, expect, is, octets, oid, readTlv } from './ber.ts';
import { OID, algorithmName } from './oids.ts';

export function inflateCompressed(der: Uint8Array, ctx: OpenContext): Uint8Array {
  const top = readTlv(der, 0);
  const [typeTlv, wrapped] = children(der, expect(top, UNIVERSAL, T.SEQUENCE, 'ContentInfo'));
  if (oid(der, typeTlv!) !== OID.compressedData)
    throw new SealpostError('malformed', 'This is not CMS CompressedData.');
  const f = children(
    der,
    expect(children(der, expect(wrapped, CONTEXT, 0, 'content'))[0], UNIVERSAL, T.SEQUENCE, 'CompressedData'),
  );
  const alg = algorithm(der, f[1]!);
  if (alg.oid !== OID.zlib)
    throw new SealpostError('unsupported', `Compression with ${algorithmName(alg.oid)} is not supported.`, {
      algorithm: algorithmName(alg.oid),
    });
  const encap = children(der, expect(f[2], UNIVERSAL, T.SEQUENCE, 'encapContentInfo'));
  if (!is(encap[1], CONTEXT, 0)) throw new SealpostError('malformed', 'The compressed content is missing.');
  const input = octets(
    der,
    expect(children(der, encap[1])[0], UNIVERSAL, T.OCTET_STRING, 'compressed content'),
  );

  const { maxDecompressedBytes, maxDecompressionRatio } = ctx.limits;
  // A compressed layer inside another one has an input much larger than the message: measure the
  // ratio against the message, or nesting would multiply it (250:1 twice is 62,500:1).
  const base = Math.max(1, Math.min(input.length, ctx.messageBytes ?? input.length));
  // Checked while inflating, chunk by chunk, not only against the whole input: the ratio of the
  // output so far to the input consumed so far, and of each WINDOW of output to the input it came
  // from, so a bomb behind incompressible padding is refused within one window (≈ 8 MiB) of output
  // instead of at ratio × the whole input (a 6 MB message used to inflate to 512 MB first).
  const WINDOW = 8 * 1024 * 1024;
  const chunks: Uint8Array[] = [];
  let total = 0;
  let consumed = 0;
  let windowOut = 0;
  let windowIn = 0;
  let failure: SealpostError | null = null;
  const ratioExceeded = (): SealpostError => limitExceeded('decompression ratio', maxDecompressionRatio);
  const inflater = new Unzlib((chunk) => {
    if (failure) return;
    total += chunk.length;
    if (total > maxDecompressedBytes) failure = limitExceeded('decompressed size', maxDecompressedBytes);
    else if (
      total > 1024 * 1024 &&
      (total / base > maxDecompressionRatio || total / consumed > maxDecompressionRatio)
    )
      failure = ratioExceeded();
    else if (total - windowOut >= WINDOW) {
      if ((total - windowOut) / Math.max(1, consumed - windowIn) > maxDecompressionRatio)
        failure = ratioExceeded();
      windowOut = total;
      windowIn = consumed;
    }
    if (!failure) chunks.push(chunk);
  });
  try {
    const STEP = 16 * 1024; // small steps: one push of a zlib bomb inflates ~1000x
    for (let i = 0; i < input.length && !failure; i += STEP) {
      const piece = input.subarray(i, i + STEP);
      consumed += piece.length;
      inflater.push(piece, i + STEP >= input.length);
    }
  } catch (e) {
    if (failure) throw failure;
    throw new SealpostError('malformed', 'The compressed content is damaged.', {}, { cause: e });
  }
  if (failure) throw failure;
  return concatBytes(chunks);
}
