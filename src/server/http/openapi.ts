/**
 * The OpenAPI 3.1 description of the HTTP API, served at /api/v1/openapi.json. docs/api.md is the
 * prose version; test/server checks that every API route is described here.
 */
const error = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: error } },
});
const json = (schema: unknown, description = 'OK') => ({
  description,
  content: { 'application/json': { schema } },
});
const idParam = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  schema: { type: 'string' },
  description,
});
const secretAuth = [{ linkSecret: [] }];

export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sealpost delivery server',
      version: '1',
      description:
        'Submit S/MIME and OpenPGP messages, follow their deliveries, and (for the receiver app) pick them up with the link secret.',
    },
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'A sender API key (sealpost senders add).' },
        linkSecret: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Sealpost-Secret',
          description:
            'The secret from the fragment of the delivery link (/m/<id>#<secret>). `Authorization: Sealpost <secret>` is accepted too.',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: {
                  type: 'string',
                  enum: [
                    'bad-request',
                    'unauthorized',
                    'bad-secret',
                    'forbidden',
                    'not-found',
                    'expired',
                    'revoked',
                    'not-secure',
                    'too-large',
                    'no-recipients',
                    'too-many-recipients',
                    'unsupported-media-type',
                    'range-not-satisfiable',
                    'timeout',
                    'conflict',
                    'rate-limited',
                    'too-many-attempts',
                    'unavailable',
                    'insufficient-storage',
                    'internal',
                  ],
                },
                message: { type: 'string' },
                details: { type: 'object' },
              },
            },
          },
        },
        Submitted: {
          type: 'object',
          required: ['id', 'deliveries'],
          properties: {
            id: { type: 'string' },
            size: { type: 'integer' },
            protocol: { type: 'string', enum: ['smime', 'pgp-mime', 'openpgp-inline', 'plain'] },
            encrypted: { type: 'boolean' },
            signed: { type: 'boolean' },
            expiresAt: { type: 'string', format: 'date-time' },
            deliveries: {
              type: 'array',
              items: {
                type: 'object',
                properties: { id: { type: 'string' }, recipient: { type: 'string', format: 'email' } },
              },
            },
          },
        },
        MessageStatus: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            createdAt: { type: 'string', format: 'date-time' },
            expiresAt: { type: 'string', format: 'date-time' },
            size: { type: 'integer' },
            protocol: { type: 'string' },
            subject: { type: 'string' },
            revoked: { type: 'boolean' },
            deliveries: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  id: { type: 'string' },
                  recipient: { type: 'string' },
                  state: {
                    type: 'string',
                    enum: ['pending', 'notified', 'opened', 'processed', 'expired', 'revoked', 'failed'],
                  },
                  events: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        at: { type: 'string', format: 'date-time' },
                        type: { type: 'string' },
                        detail: { type: 'string' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
        Pickup: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            recipient: { type: 'string' },
            sender: { type: 'string', description: 'The authenticated sender account' },
            from: { type: ['string', 'null'], description: 'The From header as written (unverified)' },
            subject: { type: 'string' },
            size: { type: 'integer' },
            protocol: { type: 'string' },
            encrypted: { type: 'boolean' },
            signed: { type: 'boolean' },
            contentType: { type: 'string' },
            sha256: { type: 'string' },
            createdAt: { type: 'string', format: 'date-time' },
            expiresAt: { type: 'string', format: 'date-time' },
            state: { type: 'string' },
            contentUrl: { type: 'string' },
            receiptUrl: { type: 'string' },
          },
        },
        DirectoryEntry: {
          type: 'object',
          properties: {
            kind: { type: 'string', enum: ['x509', 'openpgp'] },
            data: { type: 'string' },
            fingerprint: { type: 'string' },
            publishedAt: { type: 'string', format: 'date-time' },
          },
        },
      },
    },
    paths: {
      '/api/v1/messages': {
        post: {
          summary: 'Submit a secure message',
          security: [{ apiKey: [] }],
          parameters: [
            {
              name: 'to',
              in: 'query',
              schema: { type: 'array', items: { type: 'string' } },
              style: 'form',
              explode: true,
              description: 'Recipients (repeatable or comma-separated); default: the To and Cc headers',
            },
            {
              name: 'expires',
              in: 'query',
              schema: { type: 'string' },
              description: 'A duration (7d, 12h) or an ISO date; default 28d',
            },
            {
              name: 'receipt',
              in: 'query',
              schema: { type: 'boolean' },
              description:
                'Ask for a receipt mail (MDN); default: when the message has Disposition-Notification-To',
            },
          ],
          requestBody: {
            required: true,
            content: {
              'message/rfc822': { schema: { type: 'string', format: 'binary' } },
              'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
            },
          },
          responses: {
            '201': json({ $ref: '#/components/schemas/Submitted' }, 'Stored durably; notifications queued'),
            '400': errorResponse('No recipients, a bad parameter or an interrupted upload'),
            '401': errorResponse('Missing or unknown API key'),
            '413': errorResponse('Larger than the size limit'),
            '415': errorResponse('Not S/MIME or OpenPGP (not-secure), or a wrong Content-Type'),
            '429': errorResponse('Rate limit'),
            '503': errorResponse('The database is unavailable (unavailable): nothing was stored; retry'),
            '507': errorResponse(
              'The server is out of storage (insufficient-storage): nothing was stored; retry',
            ),
          },
        },
      },
      '/api/v1/messages/{id}': {
        parameters: [idParam('id', 'Message id')],
        get: {
          summary: 'Status of a message and its deliveries',
          security: [{ apiKey: [] }],
          responses: {
            '200': json({ $ref: '#/components/schemas/MessageStatus' }),
            '404': errorResponse('No such message of this sender'),
          },
        },
        delete: {
          summary: 'Revoke a message: its links stop working and its body is deleted',
          security: [{ apiKey: [] }],
          responses: {
            '200': json({ $ref: '#/components/schemas/MessageStatus' }),
            '404': errorResponse('No such message of this sender'),
          },
        },
      },
      '/api/v1/sender': {
        get: {
          summary: 'The sender an API key belongs to',
          security: [{ apiKey: [] }],
          responses: { '200': json({ type: 'object', properties: { email: { type: 'string' } } }) },
        },
      },
      '/api/v1/pickup/{id}': {
        parameters: [idParam('id', 'Delivery id (from the link)')],
        get: {
          summary: 'Metadata of a delivery (marks it opened)',
          security: secretAuth,
          responses: {
            '200': json({ $ref: '#/components/schemas/Pickup' }),
            '401': errorResponse('Wrong or missing secret'),
            '404': errorResponse('No such delivery'),
            '410': errorResponse('Expired or revoked'),
            '429': errorResponse('Too many wrong secrets'),
          },
        },
      },
      '/api/v1/pickup/{id}/content': {
        parameters: [idParam('id', 'Delivery id')],
        get: {
          summary: 'The stored message, as submitted (Range and ETag supported, Cache-Control: no-store)',
          security: secretAuth,
          parameters: [
            {
              name: 'Range',
              in: 'header',
              schema: { type: 'string' },
              description: 'bytes=start-end (one range)',
            },
            { name: 'If-Range', in: 'header', schema: { type: 'string' } },
            { name: 'If-None-Match', in: 'header', schema: { type: 'string' } },
          ],
          responses: {
            '200': { description: 'The whole message', content: { 'message/rfc822': {} } },
            '206': { description: 'A byte range', content: { 'message/rfc822': {} } },
            '304': { description: 'Not modified (ETag matched)' },
            '401': errorResponse('Wrong or missing secret'),
            '410': errorResponse('Expired or revoked'),
            '416': errorResponse('Range not satisfiable'),
          },
        },
        head: {
          summary: 'Size, ETag and ranges of the message',
          security: secretAuth,
          responses: { '200': { description: 'OK' } },
        },
      },
      '/api/v1/pickup/{id}/receipt': {
        parameters: [idParam('id', 'Delivery id')],
        post: {
          summary: "Record that the recipient's browser processed the message (or failed to)",
          security: secretAuth,
          requestBody: {
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  properties: {
                    outcome: { type: 'string', enum: ['processed', 'failed'], default: 'processed' },
                    detail: { type: 'string', maxLength: 200 },
                    receiver: { type: 'string', maxLength: 100 },
                  },
                },
              },
            },
          },
          responses: {
            '200': json({
              type: 'object',
              properties: { id: { type: 'string' }, state: { type: 'string' } },
            }),
          },
        },
      },
      '/api/v1/directory': {
        post: {
          summary: "Publish a certificate or OpenPGP public key for a delivery's recipient address",
          security: secretAuth,
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['deliveryId', 'kind', 'data'],
                  properties: {
                    deliveryId: { type: 'string' },
                    kind: { type: 'string', enum: ['x509', 'openpgp'] },
                    data: { type: 'string', description: 'PEM certificate or ASCII-armored public key' },
                  },
                },
              },
            },
          },
          responses: {
            '201': json({ type: 'object' }, 'Published'),
            '400': errorResponse('Unreadable key, or a private key'),
            '403': errorResponse('The key is not for the recipient address'),
          },
        },
      },
      '/api/v1/directory/{email}': {
        parameters: [idParam('email', 'E-mail address')],
        get: {
          summary: 'Published certificates and keys of an address',
          responses: {
            '200': json({
              type: 'object',
              properties: {
                email: { type: 'string' },
                entries: { type: 'array', items: { $ref: '#/components/schemas/DirectoryEntry' } },
              },
            }),
            '404': errorResponse('Nothing published'),
          },
        },
      },
      '/api/v1/directory/{email}/{file}': {
        parameters: [
          idParam('email', 'E-mail address'),
          idParam('file', '`openpgp.asc` (ASCII-armored key) or `x509.cer` (DER certificate)'),
        ],
        get: {
          summary:
            'Download the published OpenPGP key or certificate of an address (30 per minute per client)',
          responses: {
            '200': { description: 'application/pgp-keys or application/pkix-cert, as an attachment' },
            '404': errorResponse('Nothing of that kind published'),
          },
        },
      },
      '/api/v1/trust-anchors': {
        get: {
          summary: 'The trust anchors handed to receivers, with their SHA-256',
          responses: { '200': json({ type: 'object' }) },
        },
      },
      '/api/v1/outbox': {
        get: {
          summary: 'Built-in outbox (only without --smtp-upstream, only from loopback)',
          responses: {
            '200': json({
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  to: { type: 'string' },
                  subject: { type: 'string' },
                  text: { type: 'string' },
                  html: { type: 'string' },
                  createdAt: { type: 'string', format: 'date-time' },
                },
              },
            }),
          },
        },
      },
      '/api/v1/openapi.json': {
        get: { summary: 'This document', responses: { '200': json({ type: 'object' }) } },
      },
    },
  };
}
