/**
 * The receiver's calls to the Sealpost server. The delivery secret travels in a header, never in a
 * URL, so it cannot reach a server log or a Referer.
 */
export const SECRET_HEADER = 'X-Sealpost-Secret';

export interface PickupMetadata {
  id: string;
  sender: string;
  recipient: string;
  subject: string;
  size: number;
  protocol: string;
  encrypted?: boolean;
  createdAt?: string;
  expiresAt: string;
  state: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function failure(res: Response): Promise<ApiError> {
  let code = `http-${res.status}`;
  let message = res.statusText || `The server answered ${res.status}.`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, code, message);
}

function headers(secret: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [SECRET_HEADER]: secret, ...extra };
}

export async function fetchMetadata(id: string, secret: string): Promise<PickupMetadata> {
  const res = await fetch(`/api/v1/pickup/${encodeURIComponent(id)}`, {
    headers: headers(secret, { accept: 'application/json' }),
    cache: 'no-store',
    credentials: 'omit',
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as PickupMetadata;
}

/**
 * Streams the stored message, calling `onChunk` for each piece as it arrives. Returns the byte count.
 */
export async function streamContent(
  id: string,
  secret: string,
  onChunk: (chunk: Uint8Array) => void,
  signal?: AbortSignal,
): Promise<number> {
  const res = await fetch(`/api/v1/pickup/${encodeURIComponent(id)}/content`, {
    headers: headers(secret),
    cache: 'no-store',
    credentials: 'omit',
    ...(signal ? { signal } : {}),
  });
  if (!res.ok || !res.body) throw await failure(res);
  const reader = res.body.getReader();
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    onChunk(value);
  }
  return total;
}

export async function postReceipt(
  id: string,
  secret: string,
  details: Record<string, unknown>,
): Promise<void> {
  const res = await fetch(`/api/v1/pickup/${encodeURIComponent(id)}/receipt`, {
    method: 'POST',
    headers: headers(secret, { 'content-type': 'application/json' }),
    body: JSON.stringify(details),
    credentials: 'omit',
  });
  if (!res.ok) throw await failure(res);
}

export async function publishKey(
  id: string,
  secret: string,
  key: { kind: 'x509' | 'openpgp'; data: string },
): Promise<{ email: string }> {
  const res = await fetch(`/api/v1/directory`, {
    method: 'POST',
    headers: headers(secret, { 'content-type': 'application/json', 'x-sealpost-delivery': id }),
    body: JSON.stringify({ deliveryId: id, ...key }),
    credentials: 'omit',
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as { email: string };
}

export interface DirectoryAnswer {
  email: string;
  entries: { kind: 'x509' | 'openpgp'; data: string; fingerprint: string; publishedAt: string }[];
}

/** This server's directory: what is published for one address (null when nothing is). */
export async function lookUpDirectory(email: string): Promise<DirectoryAnswer | null> {
  const res = await fetch(`/api/v1/directory/${encodeURIComponent(email)}`, { credentials: 'omit' });
  if (res.status === 404) return null;
  if (!res.ok) throw await failure(res);
  return (await res.json()) as DirectoryAnswer;
}

/** The most a WKD answer may be (a key with its user ID and subkeys; the server reduces it). */
const WKD_MAX_BYTES = 512 * 1024;

/**
 * Web Key Directory, fetched from this browser (draft-koch-openpgp-webkey-service: servers answer
 * with `Access-Control-Allow-Origin: *`): the advanced URL, then the direct one. No credentials, no
 * Referer, no redirects to follow, bounded in time and size. Returns the binary key, or null.
 */
export async function fetchWkd(urls: string[]): Promise<{ key: Uint8Array; url: string } | null> {
  for (const url of urls) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 10_000);
    try {
      const res = await fetch(url, {
        credentials: 'omit',
        mode: 'cors',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
        cache: 'no-store',
        signal: abort.signal,
      });
      if (!res.ok) continue;
      const body = new Uint8Array(await res.arrayBuffer());
      if (body.length > 0 && body.length <= WKD_MAX_BYTES) return { key: body, url };
    } catch {
      // unreachable host, CORS refusal, timeout: try the next form
    } finally {
      clearTimeout(timer);
    }
  }
  return null;
}

export interface VersionInfo {
  version: string;
  build: string;
}

export async function fetchVersion(): Promise<VersionInfo | null> {
  try {
    const res = await fetch('/receiver/version.json', { cache: 'no-store', credentials: 'omit' });
    return res.ok ? ((await res.json()) as VersionInfo) : null;
  } catch {
    return null;
  }
}
