import { describe, expect, it } from 'vitest';
import { usePlaygroundInChromium } from '../support/browser';

/** The playground page in real headless Chromium: what people see is what is tested. */
const ui = usePlaygroundInChromium();
const { type, simulating } = ui;

describe('playground in Chromium', () => {
  it('/ecs help shows the commands, visible only to the requester', async () => {
    await type('/ecs help');
    const eph = ui.page.getByTestId('ephemeral').last();
    await expect.poll(() => eph.textContent()).toContain('/ecs status <service>');
    expect(await eph.textContent()).toContain('Only visible to you');
  });

  it('/ecs status web is answered in a thread that shows the service', async () => {
    const parent = await ui.command('/ecs status web');
    await expect.poll(() => parent.textContent(), { timeout: 10_000 }).toContain('✅');
    // The private "Working on" note is gone once the thread is there: nothing left behind.
    await expect.poll(() => ui.page.getByTestId('ephemeral').filter({ hasText: 'Working on /ecs status web' }).count()).toBe(0);
    const thread = await ui.openThread(parent);
    await expect.poll(() => thread.textContent()).toContain('Tasks: 2 running / 2 desired, 0 pending');
    const text = await thread.textContent();
    expect(text).toContain('Task definition: web:42');
    expect(text).toContain('PRIMARY web:42: COMPLETED');
    expect(await thread.getByRole('button', { name: 'Refresh' }).count()).toBe(1);
  });

  it('draws the status emoji (✅ ⏳ ❌) with a colour emoji font, whatever fonts the machine has', async () => {
    const parent = await ui.command('/ecs status web');
    await expect.poll(() => parent.textContent(), { timeout: 10_000 }).toContain('✅');
    // The font that holds ✅ ⏳ ❌ was fetched and loaded (without it they are empty boxes on a machine with no emoji font).
    // Evaluated in the page (a string: this project's types have no DOM).
    const loaded = await ui.page.evaluate(
      `document.fonts.ready.then(() => document.fonts.check('15px "Twemoji"', '✅⏳❌') && [...document.fonts].some((f) => f.family.includes('Twemoji') && f.status === 'loaded'))`,
    );
    expect(loaded).toBe(true);
  });

  it('refuses mallory, who is not on the allowlist', async () => {
    await ui.page.getByTestId('user-switch').selectOption('U0MALLORY');
    await type('/ecs status web');
    await expect.poll(() => ui.page.getByTestId('ephemeral').last().textContent()).toContain('Not allowed: you are not on the allowlist');
    expect(await ui.page.getByTestId('message').filter({ hasText: 'mallory' }).count()).toBe(0);
  });

  it('answers a bad verb with the closest match', async () => {
    await type('/ecs stauts web');
    await expect.poll(() => ui.page.getByTestId('ephemeral').last().textContent()).toContain('Unknown command stauts. Did you mean status?');
  });

  it('adds and removes a reaction, and the bot receives the events', async () => {
    ui.world.slack.postAsUser('U0BOB', 'C0OPS', 'react to me');
    const msg = ui.page.getByTestId('message').filter({ hasText: 'react to me' });
    await msg.getByTitle('Add reaction').click();
    await msg.getByTitle(':white_check_mark:').click();
    await expect.poll(() => msg.locator('.reaction').textContent()).toContain('✅ 1');
    await msg.locator('.reaction').click();
    await expect.poll(() => msg.locator('.reaction').count()).toBe(0);
  });

  it('shows an AWS permission problem asked for from the Simulate menu, naming the missing action', async () => {
    await simulating('aws-deny-describe-services', async () => {
      const parent = await ui.command('/ecs status web');
      await expect.poll(() => parent.textContent(), { timeout: 10_000 }).toContain('❌');
      const thread = await ui.openThread(parent);
      await expect.poll(() => thread.textContent()).toContain("the bot's role may not call ecs:DescribeServices");
    });
  });

  it('/ecs verify web is all OK and /ecs verify broken shows the problems with their fixes', async () => {
    const web = await ui.command('/ecs verify web');
    await expect.poll(() => web.textContent(), { timeout: 15_000 }).toMatch(/✅ @alice ran \/ecs verify web — web: \d+ OK, 0 WARN, 0 FAIL/);

    const broken = await ui.command('/ecs verify broken');
    await expect.poll(() => broken.textContent(), { timeout: 15_000 }).toMatch(/❌ @alice ran \/ecs verify broken — broken: \d+ OK, \d+ WARN, \d+ FAIL/);
    const thread = await ui.openThread(broken);
    await expect.poll(() => thread.textContent()).toContain('log group /ecs/broken does not exist');
    const text = (await thread.textContent())!;
    expect(text).toContain('Fix: Create it: aws logs create-log-group --log-group-name /ecs/broken');
    expect(text).toContain('started without ECS Exec');
    expect(text).toContain('trusts ec2.amazonaws.com, not ecs-tasks.amazonaws.com');
  });

  it('/ecs run backup.sh nightly streams into the thread and ends with the exit code', async () => {
    const parent = await ui.command('/ecs run backup.sh nightly');
    await expect.poll(() => parent.textContent(), { timeout: 15_000 }).toMatch(/✅ @alice ran \/ecs run backup.sh nightly — backup.sh nightly: exit 0/);
    const thread = await ui.openThread(parent);
    await expect.poll(() => thread.textContent()).toContain('exited with code 0');
    const text = (await thread.textContent())!;
    expect(text).toContain('Backing up database');
    expect(text).toContain('dumping tables... 100%');
    // One living message that ended with the run (its Cancel button gone with it), then the end.
    expect(text).toMatch(/⏹️ backup.sh nightly \(run [a-z0-9]{6}\) in app of task \w+ · exited with code 0/);
    expect(await thread.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
  });

  it('shows Slack markup as Slack does: mentions, broadcasts, channels, links, entities, and nothing as HTML', async () => {
    const lines = [
      'mentions <@U0BOB> and <@U0MALLORY|mal>',
      'broadcasts <!channel> <!here> <!everyone>',
      'channels <#C0RANDOM|random> <#C0OPS>',
      'links <https://example.com/a?b=1&amp;c=2|the docs> and <https://example.org/x>',
      'entities &lt;b&gt;not bold&lt;/b&gt; &amp; &amp;lt;',
      `attacks <img src=x onerror="window.__pwned=1"> <javascript:window.__pwned=1|click me> <https://e.example/" onmouseover="window.__pwned=1|quoted> <script>window.__pwned=1</script> "'`,
    ];
    ui.world.slack.postAsUser('U0BOB', 'C0OPS', lines.join('\n'));
    const msg = ui.page.getByTestId('message').filter({ hasText: 'broadcasts' }).last().locator('.text');
    await msg.waitFor();

    expect(await msg.locator('.mention').allTextContents()).toEqual(['@bob', '@mal']);
    expect(await msg.locator('.broadcast').allTextContents()).toEqual(['@channel', '@here', '@everyone']);
    expect(await msg.locator('.channel-link').allTextContents()).toEqual(['#random', '#ops']);
    const links = msg.locator('a');
    expect(await links.allTextContents()).toEqual(['the docs', 'https://example.org/x', 'quoted']);
    expect(await Promise.all((await links.all()).map((a) => a.getAttribute('href')))).toEqual([
      'https://example.com/a?b=1&c=2',
      'https://example.org/x',
      'https://e.example/" onmouseover="window.__pwned=1',
    ]);
    const text = (await msg.innerText()).split('\n');
    expect(text[0]).toBe('mentions @bob and @mal');
    expect(text[1]).toBe('broadcasts @channel @here @everyone');
    expect(text[2]).toBe('channels #random #ops');
    expect(text[3]).toBe('links the docs and https://example.org/x');
    expect(text[4]).toBe('entities <b>not bold</b> & &lt;');
    expect(text[5]).toBe(`attacks img src=x onerror="window.__pwned=1" click me quoted scriptwindow.__pwned=1/script "'`);
    // Nothing anyone sent became an element or ran.
    for (const tag of ['b', 'img', 'script', '[onerror]', '[onmouseover]', 'a[href^="javascript"]']) expect(await msg.locator(tag).count(), tag).toBe(0);
    expect(await ui.page.evaluate('window.__pwned')).toBeUndefined();
  });

  it('sends what Slack sends for a typed @name, @channel, #channel and link: <@U…> in a message, <@U…|name> in a slash command', async () => {
    await type('hi @mallory, @channel fyi #random and @nobody: a<b & see https://example.com/x.');
    const sentMessage = 'hi <@U0MALLORY>, <!channel> fyi <#C0RANDOM> and @nobody: a&lt;b &amp; see <https://example.com/x>.';
    await expect.poll(() => ui.playground.sent.at(-1)).toEqual({ kind: 'message', user: 'U0ALICE', channel: 'C0OPS', text: sentMessage });
    expect(ui.world.slack.workspace.messages.C0OPS!.at(-1)).toMatchObject({ user: 'U0ALICE', text: sentMessage });
    const msg = ui.page.getByTestId('message').filter({ hasText: 'fyi' }).last().locator('.text');
    await expect.poll(() => msg.innerText()).toBe('hi @mallory, @channel fyi #random and @nobody: a<b & see https://example.com/x.');
    expect(await msg.locator('.mention').allTextContents()).toEqual(['@mallory']);

    // /ecs allow @mallory … reaches the bot as Slack sends it with should_escape, and the bot finds her.
    await type('/ecs allow @mallory viewer web');
    await expect
      .poll(() => ui.playground.sent.at(-1))
      .toEqual({ kind: 'command', user: 'U0ALICE', channel: 'C0OPS', text: 'allow <@U0MALLORY|mallory> viewer web' });
    try {
      const parent = ui.page.getByTestId('message').filter({ hasText: 'ran /ecs allow @mallory viewer web' }).last();
      await expect.poll(() => parent.textContent(), { timeout: 10_000 }).toContain('✅');
      const thread = await ui.openThread(parent);
      await expect.poll(() => thread.textContent()).toContain('@mallory now has:');
    } finally {
      // Mallory goes back off the allowlist (she is refused in another test), by the same route.
      await type('/ecs deny @mallory');
      await expect.poll(() => ui.playground.sent.at(-1)?.text).toBe('deny <@U0MALLORY|mallory>');
      const denied = ui.page.getByTestId('message').filter({ hasText: 'ran /ecs deny @mallory' }).last();
      await expect.poll(() => denied.textContent(), { timeout: 10_000 }).toContain('✅');
    }
  });

  it('/ecs allow with a selector: the grant shows what it covers, and /ecs services <selector> answers privately', async () => {
    await type('/ecs allow @mallory viewer env=staging');
    await expect
      .poll(() => ui.playground.sent.at(-1))
      .toEqual({ kind: 'command', user: 'U0ALICE', channel: 'C0OPS', text: 'allow <@U0MALLORY|mallory> viewer env=staging' });
    try {
      const parent = ui.page.getByTestId('message').filter({ hasText: 'ran /ecs allow @mallory viewer env=staging' }).last();
      await expect.poll(() => parent.textContent(), { timeout: 10_000 }).toContain('✅');
      const thread = await ui.openThread(parent);
      await expect.poll(() => thread.textContent()).toContain('@mallory now has:• viewer on services matching env=staging');
    } finally {
      await type('/ecs deny @mallory');
      const denied = ui.page.getByTestId('message').filter({ hasText: 'ran /ecs deny @mallory' }).last();
      await expect.poll(() => denied.textContent(), { timeout: 10_000 }).toContain('✅');
    }
    await type('/ecs services region=us-east-1,cluster=main');
    const eph = ui.page.getByTestId('ephemeral').last();
    await expect.poll(() => eph.textContent()).toContain('of your services here match cluster=main,region=us-east-1');
    expect(await eph.textContent()).toContain('web — us-east-1, main/web');
  });

  it('a report Slack refuses (Simulate menu) arrives in the thread as a file, saying why', async () => {
    await simulating('slack-refuse-blocks', async () => {
      const parent = await ui.command('/ecs status web');
      await expect
        .poll(() => parent.textContent(), { timeout: 10_000 })
        .toContain('Slack refused the message (invalid_blocks); the result is attached as a file');
      expect(await parent.textContent()).toContain('✅');
      const thread = await ui.openThread(parent);
      await expect.poll(() => thread.textContent()).toContain('⚠️ Slack refused the message (invalid_blocks), so the result is attached as a file.');
      expect(await thread.getByTestId('file').textContent()).toContain('The result (Slack refused it as a message)');
      const href = (await thread.getByTestId('file').locator('a').getAttribute('href'))!;
      const file = await (await fetch(new URL(href, ui.playground.url))).text();
      expect(file).toContain('*Tasks:* 2 running / 2 desired, 0 pending');
    });
  });

  // Last: it leaves web on web:43. ECS runs at the playground's pace (PLAYGROUND_ECS_TIMINGS), so
  // the rollout is live about 20 s after the approval (the workflow polls every 5 s of real time).
  it('/ecs deploy web v1.5.0: alice asks, her own ✅ does not count, bob approves with ✅, the thread shows the rollout until web:43 is live', async () => {
    const debug = process.env.DEBUG_DEPLOY ? (what: string) => ui.page.screenshot({ path: `/tmp/deploy-${what}.png` }) : async () => undefined;
    await type('/ecs deploy web v1.5.0');
    const request = ui.page.getByTestId('message').filter({ hasText: 'asks to deploy to web' }).last();
    const text = request.locator('.text');
    await expect.poll(() => text.textContent(), { timeout: 15_000 }).toContain('React ✅ to approve or ❌ to reject');
    expect(await text.textContent()).toMatch(/web:v1\.4\.2 → \S*web:v1\.5\.0/);
    const ts = (await request.getAttribute('data-ts'))!;
    let approved = false;
    try {
      // The bot's ready-made ✅ and ❌: alice clicks the ✅ pill, as one does in Slack.
      const approve = request.locator('.reaction', { hasText: '✅' });
      await expect.poll(() => approve.textContent()).toBe('✅ 1');
      expect(await request.locator('.reaction', { hasText: '❌' }).textContent()).toBe('❌ 1');
      await approve.click();
      await expect.poll(() => ui.page.getByTestId('ephemeral').last().textContent(), { timeout: 10_000 }).toContain('so your ✅ does not count');
      expect(await approve.textContent()).toBe('✅ 2');
      expect(await approve.getAttribute('class')).toContain('mine');
      expect(await text.textContent()).toContain('⏳ Waiting for approval.');
      await debug('1-refused');

      // Bob, an approver, clicks the same pill.
      await ui.page.getByTestId('user-switch').selectOption('U0BOB');
      await expect.poll(() => approve.getAttribute('class')).not.toContain('mine');
      await approve.click();
      await expect.poll(() => text.textContent(), { timeout: 10_000 }).toContain('👍 Approved by @bob: deploying, progress in the thread.');
      approved = true;
      // Decided: the bot's own ✅ and ❌ are gone, so the pills count people only.
      // Two removals, two calls: each is awaited on its own.
      await expect.poll(() => approve.textContent()).toBe('✅ 2');
      await expect.poll(() => request.locator('.reaction', { hasText: '❌' }).count()).toBe(0);

      const thread = await ui.openThread(request);
      await expect.poll(() => thread.textContent(), { timeout: 10_000 }).toContain('UpdateService called');
      await debug('2-updated');
      // The rollout as it goes, then the verdict on the parent and at the end of the thread.
      await expect.poll(() => thread.textContent(), { timeout: 15_000 }).toMatch(/new web:43: \d\/2 running/);
      await debug('3-rolling');
      await expect
        .poll(() => text.textContent(), { timeout: 45_000, interval: 250 })
        .toMatch(/^✅ .*approved by @bob.*app: .*web:v1\.4\.2 → .*web:v1\.5\.0.*— web:43 is live and steady after/s);
      await expect.poll(() => thread.getByTestId('message').last().locator('.text').textContent()).toMatch(/^✅ web:43 is live and steady after /);
      await debug('4-live');
      const lines = (await thread.textContent())!;
      if (process.env.DEBUG_DEPLOY) console.log(`${await text.innerText()}\n---\n${await thread.innerText()}`);
      const order = [
        '🗳️ Approval requested above',
        '👍 Approved by @bob · 📝 Registered web:43 (from web:42',
        '🚀 UpdateService called',
        'new web:43: ',
        'has reached a steady state.',
        '✅ web:43 is live and steady',
      ];
      const at = order.map((line) => lines.indexOf(line));
      expect(
        at.every((i) => i >= 0),
        `every step is in the thread: ${JSON.stringify(Object.fromEntries(order.map((l, i) => [l, at[i]])))}`,
      ).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
    } finally {
      // Never leave a request waiting: its workflow would hold ui.world.close() for 30 minutes.
      if (!approved) await ui.world.react('U0ALICE', 'C0OPS', ts, 'x');
    }
  }, 90_000);
  it('/ecs deploy web v2-crash, approved, fails and rolls back: five replies, two living rollout messages, links to each stopped task and its logs', async () => {
    const requests = ui.page.getByTestId('message').filter({ hasText: 'asks to deploy to web' });
    const earlier = await requests.count();
    await type('/ecs deploy web v2-crash');
    // Its own request, never the one before it (which bob has already approved).
    await expect.poll(() => requests.count(), { timeout: 15_000 }).toBe(earlier + 1);
    const request = requests.last();
    await expect.poll(() => request.locator('.text').textContent(), { timeout: 15_000 }).toContain('React ✅ to approve');
    const ts = (await request.getAttribute('data-ts'))!;
    // Whatever the tests before left live (the v1.5.0 deploy leaves web:43) is what it rolls back to.
    const from = Number(/\(from web:(\d+)\)/.exec((await request.locator('.text').textContent())!)![1]);
    const [old, next] = [`web:${from}`, `web:${from + 1}`];
    await ui.world.react('U0BOB', 'C0OPS', ts, 'white_check_mark');
    await expect
      .poll(() => request.locator('.text').textContent(), { timeout: 150_000, interval: 500 })
      .toMatch(new RegExp(`^❌ .*rolled back to ${old}`, 's'));
    const thread = await ui.openThread(request);
    const replies = thread.getByTestId('message');
    // The thread's own first entry is the parent; then plan, rollout, failure, rollback, end.
    await expect.poll(() => replies.count()).toBe(6);
    const texts = await replies.locator('.text').allTextContents();
    expect(texts[1]).toContain('🗳️ Approval requested above');
    expect(texts[2]).toMatch(new RegExp(`👍 Approved by @bob · 📝 Registered ${next} .*❌ failed.*new ${next}: 0/2 running, \\d+ failed`, 's'));
    expect(texts[3]).toContain(`↩️ Rolling back to ${old}`);
    expect(texts[4]).toMatch(new RegExp(`↩️ Rolling web back to ${old}.*completed.*rollback to ${old}: 2/2 running`, 's'));
    expect(texts[5]).toContain('Rolled back');
    // Each stopped task links the console and its container's log stream.
    const failure = replies.nth(3);
    expect(await failure.getByRole('link', { name: 'app logs' }).count()).toBeGreaterThan(0);
    expect(await failure.getByRole('link', { name: 'app logs' }).first().getAttribute('href')).toMatch(
      /^https:\/\/[a-z0-9-]+\.console\.aws\.amazon\.com\/cloudwatch\/.*log-group/,
    );
    // The bot's ✅ and ❌ are gone: bob's approval is the only reaction.
    expect(await request.locator('.reaction').allTextContents()).toEqual(['✅ 1']);
  }, 200_000);

  it('a long run keeps one message with its latest output (its progress bar never piles up), and a cancel ends it with its button', async () => {
    const parent = await ui.command('/ecs run slow.sh 600');
    const thread = await ui.openThread(parent);
    const living = thread.getByTestId('message').nth(1);
    await expect.poll(() => living.locator('.text').textContent(), { timeout: 30_000 }).toMatch(/step [3-9] of 600 done/);
    // One message, edited: the latest steps, and the bar's many redraws never pile up as lines.
    expect(((await living.locator('.text').textContent())!.match(/\] \d+\/600/g) ?? []).length).toBeLessThanOrEqual(1);
    expect(await thread.getByTestId('message').count()).toBe(2);
    await living.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => parent.locator('.text').first().textContent(), { timeout: 40_000 }).toMatch(/^🚫/);
    await expect.poll(() => thread.getByTestId('message').last().locator('.text').textContent()).toMatch(/🚫 Cancelled by @alice/);
    expect(await thread.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    expect(await thread.getByTestId('message').count()).toBe(3); // parent, the living message, the end
  }, 90_000);

  // After the deploys: web has an older revision to roll back to.
  it('a crash loop becomes one incident message with counters, the diagnosis with log lines in its thread, and a Rollback button that asks for approval', async () => {
    let requestTs: string | undefined;
    await simulating('crash-loop', async () => {
      const incident = ui.page.getByTestId('message').filter({ hasText: 'tasks stopped' }).filter({ hasText: 'web' }).last();
      // Both of web's tasks are OOM-killed together: one message counts them both.
      await expect.poll(() => incident.locator('.text').textContent(), { timeout: 30_000 }).toMatch(/web: 2 tasks stopped in .*exit 137 \(OOM\) in app ×2/s);
      // One open incident (the v2-crash deploy above had its own, closed since: ✅).
      const open = ui.page.getByTestId('message').filter({ hasText: 'tasks stopped' }).filter({ hasText: 'web' }).filter({ hasNotText: '✅' });
      expect(await open.count()).toBe(1);
      for (const name of ['Status', 'Logs', 'Verify', 'Rollback', '🔕 Mute 1 h']) expect(await incident.getByRole('button', { name }).count()).toBe(1);

      const thread = await ui.openThread(incident);
      const diagnosis = thread.getByTestId('message').filter({ hasText: 'stopped (EssentialContainerExited)' }).first();
      await expect
        .poll(() => diagnosis.locator('.text').textContent(), { timeout: 15_000 })
        .toMatch(/exit 137, OutOfMemoryError: Container killed due to memory usage/);
      expect(await diagnosis.locator('.text').textContent()).toMatch(/Last \d+ lines of app .*heapUsedMB/s);
      expect(await diagnosis.getByRole('link').first().getAttribute('href')).toMatch(
        /^https:\/\/us-east-1\.console\.aws\.amazon\.com\/ecs\/v2\/clusters\/main\/tasks\//,
      );

      // alice (a deployer) clicks Rollback: the usual request, waiting for someone else's approval.
      await incident.getByRole('button', { name: 'Rollback' }).click();
      const request = ui.page.getByTestId('message').filter({ hasText: 'asks to roll web back' }).last();
      await expect.poll(() => request.locator('.text').textContent(), { timeout: 15_000 }).toContain('React ✅ to approve');
      requestTs = (await request.getAttribute('data-ts'))!;
    });
    // Withdrawn (her own ❌), so nothing waits on it; the crash loop is cleared and web is steady again.
    if (requestTs) await ui.world.react('U0ALICE', 'C0OPS', requestTs, 'x');
    const closed = ui.page.getByTestId('message').filter({ hasText: 'tasks stopped' }).filter({ hasText: 'web' }).last();
    await expect.poll(() => closed.locator('.text').textContent(), { timeout: 60_000 }).toMatch(/^✅ web: \d+ tasks stopped/);
  }, 120_000);
});
