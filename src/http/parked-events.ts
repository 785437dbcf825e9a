import type { Request, Response } from 'express';
import { BadRequestError } from '../core/errors';
import { parseJson } from '../ingest/json';
import { readBody, requireJson } from '../ingest/body';
import type { EventDeadLetters } from '../pipeline/dead-letters';

const MAX_BODY = 64 * 1024;
const MAX_IDS = 1000;

/**
 * `GET /v1/events/dead-letters[?limit=N]`: the parked events, newest first, without their payloads.
 * `POST /v1/events/dead-letters/replay` with no body (all) or `{"ids": [...]}`: publish them again.
 */
export function parkedEventHandlers(parked: EventDeadLetters) {
  return {
    list: async (req: Request, res: Response) => {
      const limit = Math.min(1000, Math.max(1, Number(req.query.limit) || 100));
      res.json({ deadLetters: await parked.list(limit) });
    },
    replay: async (req: Request, res: Response) => {
      const ids = await requestedIds(req);
      res.status(202).json(await parked.replay(ids));
    },
  };
}

async function requestedIds(req: Request): Promise<string[] | undefined> {
  const declared = req.headers['content-length'];
  const chunked = req.headers['transfer-encoding'] !== undefined;
  if (!chunked && (declared === undefined || declared === '0')) return undefined;
  requireJson(req);
  const text = await readBody(req, MAX_BODY);
  if (text.trim() === '') return undefined;
  const body = parseJson(text, { maxDepth: 4 });
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('body must be a JSON object');
  const ids = (body as { ids?: unknown }).ids;
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids) || ids.length > MAX_IDS || !ids.every((id) => typeof id === 'string' && id.length <= 128)) {
    throw new BadRequestError(`ids must be an array of at most ${MAX_IDS} dead-letter ids`);
  }
  return ids as string[];
}
