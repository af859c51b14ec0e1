import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const digest = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

/** Whether the request presents `authorization: Bearer <token>` (compared by SHA-256, in constant time). */
export function presentsAdminToken(req: IncomingMessage, token: Buffer): boolean {
  const presented = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  return presented !== undefined && timingSafeEqual(digest(Buffer.from(presented)), digest(token));
}
