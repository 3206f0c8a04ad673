/** Limits enforced while reading a message; every one of them yields `limit-exceeded` when crossed. */
export interface Limits {
  /** Encryption and signature layers peeled from one message (S/MIME, PGP/MIME, inline OpenPGP). */
  maxLayers: number;
  /** Nesting depth of MIME multiparts and message/rfc822 parts. */
  maxMimeDepth: number;
  /** MIME parts in one message, across all levels. */
  maxParts: number;
  /** Total bytes of the message as read (before decoding). */
  maxTotalBytes: number;
  /** Bytes produced by decompression (OpenPGP compressed packets, CMS CompressedData). */
  maxDecompressedBytes: number;
  /** Output/input ratio allowed for decompression (a zip-bomb guard), applied once output exceeds 1 MiB. */
  maxDecompressionRatio: number;
  /** Header section size of one MIME entity. */
  maxHeaderBytes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxLayers: 16,
  maxMimeDepth: 64,
  maxParts: 1000,
  maxTotalBytes: 512 * 1024 * 1024,
  maxDecompressedBytes: 512 * 1024 * 1024,
  maxDecompressionRatio: 200,
  maxHeaderBytes: 1024 * 1024,
});

export function resolveLimits(partial?: Partial<Limits>): Limits {
  return { ...DEFAULT_LIMITS, ...(partial ?? {}) };
}
