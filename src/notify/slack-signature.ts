import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack's replay window: requests older (or newer) than this are refused. */
export const SLACK_REPLAY_WINDOW_MS = 5 * 60_000;

export function slackSignature(secret: string, timestamp: string, rawBody: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${rawBody}`).digest('hex')}`;
}

/**
 * Slack's request signing (v0): `X-Slack-Signature` must be the HMAC-SHA256 of `v0:<timestamp>:<body>`
 * under the app's signing secret, compared in constant time, and the timestamp within five minutes.
 * Returns why not, or undefined when the request is Slack's.
 */
export function verifySlackRequest(
  secret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  rawBody: string,
  nowMs: number,
): string | undefined {
  const { timestamp, signature } = headers;
  if (!timestamp || !/^\d+$/.test(timestamp)) return 'missing or malformed X-Slack-Request-Timestamp';
  if (!signature) return 'missing X-Slack-Signature';
  if (Math.abs(nowMs - Number(timestamp) * 1000) > SLACK_REPLAY_WINDOW_MS) return 'request timestamp outside the 5-minute window';
  const expected = Buffer.from(slackSignature(secret, timestamp, rawBody));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'signature mismatch';
  return undefined;
}
