/**
 * The playground's web server: a Slack-like page over the local world. The page talks to this
 * server; this server acts as Slack would towards the bot (signed slash commands, Events API
 * deliveries, button payloads) and reads the local Slack's state to show what Slack would show.
 */
import { startServiceTraffic } from '../aws/service-traffic';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { forceNewDeployment } from '../aws/rollout';
import { SAMPLE } from '../aws/sample';
import type { EcsTimings } from '../aws/state';
import { resetSlackSecrets } from '../../src/platform/secrets';
import { webhookUserId } from '../../src/slack/invocation';
import type { World } from '../world';

const PAGE = new URL('./page.html', import.meta.url);
/** Twemoji as a COLR font (npm twemoji-colr-font): Chromium draws it, unlike SVG-in-OpenType emoji fonts. */
const EMOJI_FONT = join(dirname(createRequire(import.meta.url).resolve('twemoji-colr-font/package.json')), 'twemoji.woff2');

/** What the page sent as a person (as Slack's client would send it), oldest first. */
export interface SentByPage {
  kind: 'command' | 'message';
  user: string;
  channel: string;
  /** As Slack delivers it: a command's text without `/ecs`, with Slack's markup and escapes. */
  text: string;
}

export interface Playground {
  url: string;
  port: number;
  sent: SentByPage[];
  /**
   * A system calling the bot's signed API (/api/runs, /api/deploys, GET /api/runs/{id}) on this
   * server: the local world's keys of role `playground-ci`, allowed to run backup.sh and deploy web.
   */
  apiCaller: { roleArn: string; accessKeyId: string; secretAccessKey: string; region: string };
  close(): Promise<void>;
}

export class PortInUseError extends Error {}

/**
 * ECS at the playground's pace: each step of a task's life (provision, pull, health checks, drain)
 * takes 5 s instead of the emulator's 15 s, so an approved `/ecs deploy web …` (two tasks, rolling)
 * is live and steady about 20 s later, with a progress line at each of the deploy workflow's 5 s
 * polls. The emulator's clock is not sped up: it keeps real time, so every timestamp the bot shows
 * (UpdateService calls, service events in `/ecs status`) matches the page's, and Lambda deadlines
 * stay real.
 */
export const PLAYGROUND_ECS_TIMINGS: Partial<EcsTimings> = {
  provisionMs: 5_000,
  pullMs: 5_000,
  healthyMs: 5_000,
  crashAfterMs: 2_000,
  drainMs: 5_000,
  stopMs: 5_000,
  retryBaseMs: 5_000,
};

/** Faults a person can ask for from the page, to see how the bot copes. */
export const SIMULATIONS: Record<string, (world: World) => void> = {
  'aws-throttle': (w) => void w.aws.faults.throttle('ecs:Describe*', 3),
  'aws-deny-describe-services': (w) => void w.aws.faults.deny('ecs:DescribeServices'),
  'aws-latency': (w) => w.aws.faults.latency(400),
  'slack-rate-limit': (w) => w.slack.faults.rateLimit('chat.postMessage', 1, 1),
  // The next thread reply with blocks (a /ecs status report) is refused as an oversized section would be.
  'slack-refuse-blocks': (w) =>
    w.slack.faults.fail('chat.postMessage', 'invalid_blocks', 1, (args) => args.thread_ts !== undefined && args.blocks !== undefined, {
      response_metadata: { messages: ['[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]'] },
    }),
  'dynamodb-refuse': (w) => w.dynamo.fault('refuse'),
  'dynamodb-hang': (w) => w.dynamo.fault('hang'),
  'ssm-slow': (w) => {
    w.aws.faults.latency(5_000, 'ssm:GetParameters');
    resetSlackSecrets(); // the secrets are read once per cold start: make this the next one
  },
  'lambda-throttle': (w) => void w.aws.faults.throttle('lambda:InvokeFunction', 1_000),
  // `/ecs logs … --since/--grep/--follow` backs off and reads on: every line once all the same.
  'logs-throttle': (w) => void w.aws.faults.throttle('logs:FilterLogEvents', 5),
  // web's tasks are killed for memory over and over (ECS relaunches them with its back-off).
  'crash-loop': (w) => void w.aws.state.crashLoop(SAMPLE.services.web, { exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' }),
  'crash-loop-clear': (w) => w.aws.state.crashLoops.clear(SAMPLE.services.web),
  // A new deployment of web that finds no Fargate capacity: its tasks cannot be placed, the old ones keep serving.
  'placement-failure': (w) => {
    w.aws.state.failPlacements(SAMPLE.services.web, 'RESOURCE:FARGATE');
    forceNewDeployment(w.aws.state, SAMPLE.services.web);
  },
  'placement-failure-clear': (w) => w.aws.state.placementFailures.clear(SAMPLE.services.web),
  clear: (w) => {
    w.aws.state.crashLoops.clear();
    w.aws.state.placementFailures.clear();
    w.aws.faults.clear();
    w.slack.faults.clear();
    w.dynamo.fault('none');
  },
};

/** The routes the bot's api and webhook functions serve (serverless.yml), forwarded to the local HTTP API. */
const BOT_API_PATH = /^\/api\/(?:runs(?:\/[^/]+)?|deploys|webhooks\/[^/]+)$/;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readText(req);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1_000_000) throw new Error('request too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(type === 'application/json' ? JSON.stringify(body) : (body as string | Buffer));
}

const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string' || !v) throw Object.assign(new Error(`${name} is required`), { status: 400 });
  return v;
};

/** The state a person sees: the workspace, with only their own ephemeral messages and no file bytes. */
function snapshot(world: World, userId: string) {
  const ws = world.slack.workspace;
  return {
    team: ws.team,
    bot: ws.bot,
    users: ws.users,
    channels: ws.channels,
    messages: ws.messages,
    ephemerals: ws.ephemerals.filter((e) => e.user === userId),
    files: ws.files.filter((f) => f.uploaded).map(({ content, ...meta }) => ({ ...meta, size: content.length })),
  };
}

export interface PlaygroundOptions {
  port?: number;
  host?: string;
  /** ECS's pace in the world, set when the page starts: PLAYGROUND_ECS_TIMINGS unless given (`{}` keeps the world's own). */
  ecsTimings?: Partial<EcsTimings>;
}

export async function startPlayground(world: World, options: PlaygroundOptions = {}): Promise<Playground> {
  const page = readFileSync(PAGE, 'utf8');
  Object.assign(world.aws.state.ecsTimings, options.ecsTimings ?? PLAYGROUND_ECS_TIMINGS);
  // web's tasks log requests (and some ERRORs) while the page is up: `/ecs logs web --grep ERROR`.
  const stopTraffic = startServiceTraffic(world.aws.state, world.aws.clock);
  const clients = new Set<ServerResponse>();
  const sent: SentByPage[] = [];
  let pending: NodeJS.Timeout | undefined;
  // Coalesce bursts of changes (a streamed thread edits often) into one nudge per 50 ms.
  world.slack.events.on('change', () => {
    pending ??= setTimeout(() => {
      pending = undefined;
      for (const c of clients) c.write('event: change\ndata: {}\n\n');
    }, 50);
  });

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: Error & { status?: number }) => send(res, error.status ?? 500, { error: error.message }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // The bot's signed API, as API Gateway serves it: SigV4 checked against the local world's keys.
    if (BOT_API_PATH.test(url.pathname)) {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
      const body = await readText(req);
      const result = await world.httpApi.handle({
        method: req.method ?? 'GET',
        path: url.pathname,
        ...(url.search ? { query: url.search.slice(1) } : {}),
        headers,
        ...(body ? { body } : {}),
      });
      res.writeHead(result.statusCode, result.headers ?? {});
      res.end(result.body);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/') return send(res, 200, page, 'text/html; charset=utf-8');
    if (req.method === 'GET' && url.pathname === '/api/state') return send(res, 200, snapshot(world, url.searchParams.get('user') ?? ''));
    if (req.method === 'GET' && url.pathname === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write('event: change\ndata: {}\n\n');
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    // The emoji of the bot's messages (✅ ⏳ ❌) are its status: they must show on any machine,
    // including one with no emoji font installed (a fresh CI machine, a headless Chromium).
    if (req.method === 'GET' && url.pathname === '/fonts/twemoji.woff2') {
      res.writeHead(200, { 'content-type': 'font/woff2', 'cache-control': 'max-age=86400' });
      res.end(readFileSync(EMOJI_FONT));
      return;
    }
    const file = /^\/files\/([\w-]+)$/.exec(url.pathname);
    if (req.method === 'GET' && file) {
      const f = world.slack.workspace.files.find((x) => x.id === file[1]);
      if (!f) return send(res, 404, { error: 'no such file' });
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-disposition': `inline; filename="${f.name.replace(/"/g, '')}"` });
      res.end(f.content);
      return;
    }
    if (req.method !== 'POST') return send(res, 404, { error: 'not found' });
    const body = await readJson(req);
    if (url.pathname === '/api/simulate') {
      const fault = SIMULATIONS[str(body.fault, 'fault')];
      if (!fault) return send(res, 400, { error: `unknown simulation ${String(body.fault)}` });
      fault(world);
      return send(res, 200, { ok: true });
    }
    const user = str(body.user, 'user');
    const channel = str(body.channel, 'channel');
    switch (url.pathname) {
      case '/api/command': {
        const text = str(body.text, 'text').replace(/^\/ecs\s*/, '');
        sent.push({ kind: 'command', user, channel, text });
        const result = await world.slash(user, text, channel);
        return send(res, 200, { status: result.statusCode });
      }
      case '/api/message': {
        const text = str(body.text, 'text');
        sent.push({ kind: 'message', user, channel, text });
        world.slack.postAsUser(user, channel, text, typeof body.threadTs === 'string' ? body.threadTs : undefined);
        return send(res, 200, { ok: true });
      }
      case '/api/react': {
        const result = await world.react(user, channel, str(body.ts, 'ts'), str(body.name, 'name'), body.added !== false);
        return send(res, 200, { status: result.statusCode });
      }
      case '/api/click': {
        const result = await world.click(user, channel, str(body.ts, 'ts'), {
          action_id: str(body.actionId, 'actionId'),
          ...(typeof body.value === 'string' ? { value: body.value } : {}),
        });
        return send(res, 200, { status: result.statusCode });
      }
      default:
        return send(res, 404, { error: 'not found' });
    }
  }

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(`port ${options.port} on ${host} is already in use`) : error),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const caller = world.apiCaller('playground-ci', { session: 'playground', expires: false });
  const { dynamoAllowlist } = await import('../../src/auth/allowlist');
  await dynamoAllowlist.put({
    teamId: world.teamId,
    userId: `iamp:${caller.roleArn}`,
    grants: [
      { role: 'operator', services: ['manager'], scripts: ['backup.sh'] },
      { role: 'deployer', services: ['web'] },
    ],
    addedBy: 'playground',
    updatedAt: new Date().toISOString(),
  });
  // The example configuration's ticket webhook source, as an admin would admit it (`/ecs allow webhook:tickets …`).
  await dynamoAllowlist.put({
    teamId: world.teamId,
    userId: webhookUserId('tickets'),
    grants: [
      { role: 'operator', services: ['manager'], scripts: ['backup.sh'] },
      { role: 'deployer', services: ['web'] },
    ],
    addedBy: 'playground',
    updatedAt: new Date().toISOString(),
  });
  return {
    url: `http://${host}:${port}/`,
    port,
    sent,
    apiCaller: {
      roleArn: caller.roleArn,
      accessKeyId: caller.credentials.accessKeyId,
      secretAccessKey: caller.credentials.secretAccessKey,
      region: 'us-east-1',
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (pending) clearTimeout(pending);
        stopTraffic();
        for (const c of clients) c.end();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
