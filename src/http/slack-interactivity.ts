import { Router, type Request, type Response } from 'express';
import type { SilenceStore } from '../alert/silence';
import type { Clock } from '../core/clock';
import { FalconerError, UnauthorizedError } from '../core/errors';
import { readBody } from '../ingest/body';
import type { Logger } from '../observability/logger';
import { verifySlackRequest } from '../notify/slack-signature';
import { SILENCE_ACTION, parseSilenceValue } from '../notify/slack-actions';

const BODY_LIMIT = 64 * 1024;
/** Slack wants the answer within 3 s; the silence write gets most of that, the rest is margin. */
const WORK_BUDGET_MS = 2000;

export interface SlackInteractivityOptions {
  signingSecret: string;
  silenceMs: number;
  /** Where `response_url` may point (Slack's hooks; a test server): nothing else is called. */
  responseUrlPrefixes: string[];
}

interface BlockActions {
  type: string;
  user?: { id?: string; username?: string; name?: string };
  actions?: { action_id?: string; value?: string }[];
  response_url?: string;
}

/**
 * `POST /v1/slack/interactivity`: Slack's interactivity requests, authenticated by Slack's signature
 * (no bearer token: Slack cannot send one). The "Silence 1h" button creates a silence for the
 * alert's labels and says so in the channel, only to the user who pressed it.
 */
export function slackInteractivityRoutes(
  silences: SilenceStore,
  clock: Clock,
  log: Logger,
  options: SlackInteractivityOptions,
): Router {
  const router = Router();
  router.post('/v1/slack/interactivity', (req: Request, res: Response, next) => {
    handle(req, res).catch(next);
  });

  async function handle(req: Request, res: Response): Promise<void> {
    const raw = await readBody(req, BODY_LIMIT);
    const why = verifySlackRequest(
      options.signingSecret,
      { timestamp: header(req, 'x-slack-request-timestamp'), signature: header(req, 'x-slack-signature') },
      raw,
      clock.now(),
    );
    if (why) {
      log.warn({ reason: why }, 'Slack interactivity request refused');
      throw new UnauthorizedError(`invalid Slack request: ${why}`);
    }
    const payloadText = new URLSearchParams(raw).get('payload');
    let payload: BlockActions;
    try {
      payload = JSON.parse(payloadText ?? '') as BlockActions;
    } catch {
      throw new FalconerError('invalid_payload', 'the payload field must hold JSON', 400);
    }
    const action = payload.type === 'block_actions' ? payload.actions?.find((a) => a.action_id === SILENCE_ACTION) : undefined;
    if (!action) {
      res.status(200).end(); // other interactions (the runbook link button) need nothing from us
      return;
    }
    const matchers = parseSilenceValue(action.value ?? '');
    if (!matchers) throw new FalconerError('invalid_payload', 'the silence button carries no usable labels', 400);
    const who = payload.user?.username ?? payload.user?.name ?? payload.user?.id ?? 'slack';
    const created = await withinBudget(
      silences.create({
        matchers,
        endsAt: new Date(clock.now() + options.silenceMs).toISOString(),
        createdBy: `slack:${who}`,
        comment: 'Silenced from Slack ("Silence 1h")',
      }),
    );
    res.status(200).end();
    const url = payload.response_url;
    if (url && options.responseUrlPrefixes.some((p) => url.startsWith(p))) {
      const text = created
        ? `Silenced for ${Math.round(options.silenceMs / 60_000)} min by ${who} (silence ${created.id}).`
        : 'The silence could not be created in time; try `falconer silence add`.';
      void fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, text }),
        signal: AbortSignal.timeout(5000),
      }).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'Slack response_url call failed'));
    }
  }
  return router;
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function withinBudget<T>(work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), WORK_BUDGET_MS)));
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
