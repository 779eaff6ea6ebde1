/**
 * One escaping discipline for Slack mrkdwn: text from outside the bot (AWS messages and names,
 * ECS events and stop reasons, script output, configuration descriptions, placeholders of usage
 * strings) reaches Slack escaped exactly once, so Slack shows it as written and acts on no markup
 * in it. Each source is fed hostile text and the result is read the way Slack reads it.
 */
import { DescribeImagesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, ListTasksCommand, type Service, type TaskDefinition } from '@aws-sdk/client-ecs';
import type { WebClient } from '@slack/web-api';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSlackServer, type SlackServer } from '../local/slack/server';
import { startWorld, type World } from '../local/world';
import { explainAwsError } from '../src/aws/errors';
import type { AwsSession } from '../src/aws/session';
import { help } from '../src/commands/help';
import { endReport } from '../src/commands/run';
import { explainExecError } from '../src/commands/run-target';
import { describeScriptArgs } from '../src/commands/script-args';
import { scripts } from '../src/commands/scripts';
import { readServiceSnapshot, renderStatus } from '../src/commands/status';
import type { AckContext } from '../src/commands/types';
import { parseConfig, type Config, type Target } from '../src/config/schema';
import { checkImage } from '../src/deploy/image-check';
import { planDeploy } from '../src/deploy/plan';
import { requestHeadline } from '../src/deploy/render';
import { observeRollout, readStoppedTasks, startProgress } from '../src/deploy/watch';
import { withImage } from '../src/ecs/taskdef';
import { checkArguments } from '../src/exec/command';
import { OutputCleaner } from '../src/exec/output';
import { UserFacingError } from '../src/platform/errors';
import { createSlackClient } from '../src/slack/client';
import { breakFences, code, escapeText } from '../src/slack/format';
import { ThreadOutput } from '../src/slack/thread-output';
import { classifyDefaultRoute, networkChecks } from '../src/verify/checks/network';
import type { VerifyContext } from '../src/verify/context';
import { describeCheckError } from '../src/verify/errors';
import { renderSummary, renderTree, resultLine } from '../src/verify/render';
import type { CheckOutcome, CheckResult } from '../src/verify/types';

/** What a hostile AWS message, ECS event or script line may hold; `&amp;` is typed literally. */
const PIECES = ['<!channel>', '<!here>', '<@U0ALICE>', '<https://evil.example|click>', '&amp;'];
const EVIL = PIECES.join(' ');

/** How Slack reads mrkdwn: `<…>` is markup it acts on (mentions, links), entities are decoded in what it shows. */
function slackReads(text: string): { markup: string[]; shown: string } {
  const markup = text.match(/<[^<>]*>/g) ?? [];
  const shown = text.replace(/<[^<>]*>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return { markup, shown };
}

/**
 * Slack acts on no markup but the bot's own (`allowed`), and shows each piece as written: escaped
 * exactly once (not escaped, a piece would be markup; escaped twice, Slack would show `&lt;`).
 */
function expectShownAsWritten(text: string, pieces: string[] = PIECES, allowed: string[] = []): void {
  const { markup, shown } = slackReads(text);
  expect(markup, text).toEqual(allowed);
  for (const piece of pieces) {
    expect(shown, text).toContain(piece);
    expect(shown, text).not.toContain(escapeText(piece));
  }
}

const ecsMock = mockClient(ECSClient);
const ecrMock = mockClient(ECRClient);
const session = { ecs: () => new ECSClient({ region: 'us-east-1' }), client: (C: typeof ECRClient, region?: string) => new C({ region: region ?? 'us-east-1' }) } as unknown as AwsSession;
/** For the describes that stub AWS (the end-to-end one restores the real clients). */
const resetMocks = () => {
  ecsMock.reset();
  ecrMock.reset();
};

describe('format helpers', () => {
  it('code() escapes once and keeps the span closed whatever the text holds', () => {
    expect(code('a<b>&amp;')).toBe('`a&lt;b&gt;&amp;amp;`');
    expect(code('x` <!here> `y')).toBe('`xˋ &lt;!here&gt; ˋy`');
  });
  it('breakFences() leaves no run of three backticks, and changes nothing the second time', () => {
    for (const run of ['```', '````', '``````', '```````````']) {
      const broken = breakFences(`a${run}b`);
      expect(broken).not.toContain('```');
      expect(broken.replaceAll('\u200b', '')).toBe(`a${run}b`);
      expect(breakFences(broken)).toBe(broken);
    }
  });
});

describe('AWS errors', () => {
  it('escapes the message, the error name and the request id', () => {
    const error = Object.assign(new Error(EVIL), { name: 'InvalidParameterException', $metadata: { requestId: '<!here>' } });
    const text = explainAwsError(error, 'reading service `web`').userMessage;
    expectShownAsWritten(text);
    expect(text).toContain('AWS returned InvalidParameterException while reading service `web`');
    expectShownAsWritten(explainAwsError(Object.assign(new Error('nope'), { name: '<!channel>' }), 'reading').userMessage, ['<!channel>']);
    expectShownAsWritten(explainAwsError(Object.assign(new Error(EVIL), { name: 'ExpiredToken<!here>' }), 'reading').userMessage, ['<!here>']);
  });
  it('escapes the resource an access denial names, and the whole message when it names no action', () => {
    const denied = Object.assign(new Error('User: arn:aws:sts::1:assumed-role/bot is not authorized to perform: ecs:DescribeServices on resource: <!channel> because no policy allows it'), { name: 'AccessDeniedException' });
    const text = explainAwsError(denied, 'reading').userMessage;
    expectShownAsWritten(text, ['<!channel>']);
    expect(text).toContain('may not call `ecs:DescribeServices` on `&lt;!channel&gt;`');
    expectShownAsWritten(explainAwsError(Object.assign(new Error(EVIL), { name: 'AccessDenied' }), 'reading').userMessage);
  });
});

describe('script output in a thread', () => {
  let server: SlackServer;
  let client: WebClient;
  beforeAll(async () => {
    server = await startSlackServer();
    process.env.SLACK_API_URL = server.url;
    client = createSlackClient('xoxb-test');
  });
  afterAll(async () => {
    delete process.env.SLACK_API_URL;
    await server.close();
  });
  const start = () => ThreadOutput.start({ client, channel: 'C0OPS', remainingMs: () => 600_000, parentText: '<@U0ALICE> ran `/ecs run echo.sh`' });

  it('the cleaner keeps output as the program wrote it; the live log escapes it once and holds its code block', async () => {
    const cleaner = new OutputCleaner();
    const lines = cleaner.push(new TextEncoder().encode(`${EVIL}\r\n\`\`\`\r\n\`\`\`\`\`\` <!here>\r\nend \`\`\`\`\r\n`));
    expect(lines[0]).toBe(EVIL);
    const out = await start();
    out.write(`${lines.join('\n')}\n`);
    await out.finish({ outcome: 'success', summary: 'done' });
    const [live] = server.replies('C0OPS', out.parentTs);
    expect(live!.text.split('```')).toHaveLength(3); // one block: its own two fences and no other
    expect(live!.text.startsWith('```\n') && live!.text.endsWith('\n```')).toBe(true);
    expectShownAsWritten(live!.text.replaceAll('\u200b', '').replaceAll('```', ''));

    // A fence arriving in pieces over several writes cannot close the block either.
    const pieces = await start();
    for (const piece of ['a `', '``', '```', '` b\n']) pieces.write(piece);
    await pieces.finish({ outcome: 'success', summary: 'done' });
    expect(server.replies('C0OPS', pieces.parentTs)[0]!.text.split('```')).toHaveLength(3);
  });
});
