import { createHmac, randomBytes } from 'node:crypto';
import type { HttpEvent } from '../../src/ingress/http';

/** Signs a body exactly as Slack does: v0 HMAC-SHA256 over `v0:<timestamp>:<body>`. */
export function slackSignature(signingSecret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SignedEventOptions {
  signingSecret: string;
  body: string;
  contentType: 'application/x-www-form-urlencoded' | 'application/json';
  timestampSec?: number;
  /** API Gateway may base64-encode bodies; Slack signs the decoded bytes. */
  base64?: boolean;
  headers?: Record<string, string>;
}

/** An API Gateway HTTP API (payload 2.0) event carrying a signed Slack request. */
export function signedSlackEvent(options: SignedEventOptions): HttpEvent {
  const timestamp = options.timestampSec ?? Math.floor(Date.now() / 1000);
  return {
    rawPath: '/slack/events',
    requestContext: { http: { method: 'POST' } },
    headers: {
      'content-type': options.contentType,
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': slackSignature(options.signingSecret, timestamp, options.body),
      ...options.headers,
    },
    body: options.base64 ? Buffer.from(options.body, 'utf8').toString('base64') : options.body,
    isBase64Encoded: Boolean(options.base64),
  };
}

export interface SlashCommandFields {
  teamId: string;
  userId: string;
  userName?: string;
  channelId: string;
  channelName?: string;
  command?: string;
  text: string;
  responseUrl?: string;
}

let triggerSeq = 0;
/** Slack's trigger ids are unique per command or click: `<digits>.<digits>.<hex>`. */
export const triggerId = (): string => `${Date.now()}.${++triggerSeq}.${randomBytes(8).toString('hex')}`;

/** The form body Slack posts for a slash command. */
export function slashCommandBody(f: SlashCommandFields): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: f.teamId,
    team_domain: 'local',
    channel_id: f.channelId,
    channel_name: f.channelName ?? 'ops',
    user_id: f.userId,
    user_name: f.userName ?? f.userId.toLowerCase(),
    command: f.command ?? '/ecs',
    text: f.text,
    api_app_id: 'A0LOCAL',
    is_enterprise_install: 'false',
    response_url: f.responseUrl ?? 'https://hooks.slack.com/commands/T0LOCAL01/1/local',
    // Unique per request as Slack's are, so two identical commands are two requests, not a replay.
    trigger_id: triggerId(),
  }).toString();
}
