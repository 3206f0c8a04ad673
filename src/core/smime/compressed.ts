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
  const chunks: Uint8Array[] = [];
  let total = 0;
  let failure: SealpostError | null = null;
  const inflater = new Unzlib((chunk) => {
    total += chunk.length;
    if (total > maxDecompressedBytes) failure ??= limitExceeded('decompressed size', maxDecompressedBytes);
    else if (total > 1024 * 1024 && total / base > maxDecompressionRatio)
      failure ??= limitExceeded('decompression ratio', maxDecompressionRatio);
    else chunks.push(chunk);
  });
  try {
    const STEP = 16 * 1024; // small steps: one push of a zlib bomb inflates ~1000x
    for (let i = 0; i < input.length && !failure; i += STEP)
      inflater.push(input.subarray(i, i + STEP), i + STEP >= input.length);
  } catch (e) {
    throw new SealpostError('malformed', 'The compressed content is damaged.', {}, { cause: e });
  }
  if (failure) throw failure;
  return concatBytes(chunks);
}
