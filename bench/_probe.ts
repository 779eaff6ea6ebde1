import { startWorld } from '../local/world';
process.env.LOG_LEVEL = 'silent';
process.env.RUN_WORKFLOW_POLL_SECONDS ??= '3';
const world = await startWorld({ durableSkipTime: process.env.SKIP === '1' });
const CH = 'C0OPS';
const parents = () => (world.slack.workspace.messages[CH] ?? []).filter((m) => !m.threadTs || m.threadTs === m.ts);
async function cmd(user: string, text: string) {
  const before = new Set(parents().map((m) => m.ts));
  const eph = world.slack.workspace.ephemerals.length;
  const res = await world.slash(user, text);
  const parent = await world.slack.waitFor(() => parents().find((m) => !before.has(m.ts)), 20_000).catch(() => undefined);
  return { res, parent, eph };
}
function dump(label: string, ts: string, eph: number) {
  const replies = world.slack.replies(CH, ts);
  console.log(`\n===== ${label}: parent + ${replies.length} replies =====`);
  console.log('PARENT:', world.slack.message(CH, ts)?.text);
  for (const r of replies) console.log('---', r.text.slice(0, 600), (r as any).blocks ? `[blocks ${JSON.stringify((r as any).blocks).slice(0, 300)}]` : '', (r as any).history?.length ? `(edited ${(r as any).history.length}x)` : '');
  console.log('EPHEMERALS:', world.slack.workspace.ephemerals.slice(eph).map((e) => e.text));
  console.log('RESPONSES:', JSON.stringify(world.slack.workspace.responses.slice(-3)).slice(0, 800));
}
const which = process.argv[2] ?? 'all';
if (which === 'verify' || which === 'all') { const v = await cmd('U0ALICE', 'verify broken'); await world.idle(); dump('verify broken', v.parent!.ts, v.eph); }
if (which === 'deploy' || which === 'all') {
  const d = await cmd('U0ALICE', 'deploy web v2-crash'); await world.slack.waitFor(() => world.slack.message(CH, d.parent!.ts)?.text.includes('React :white_check_mark:') || undefined, 20_000);
  await world.react('U0BOB', CH, d.parent!.ts, 'white_check_mark');
  await world.slack.waitFor(() => /^(✅|❌|⚠️|🚫)/u.test(world.slack.message(CH, d.parent!.ts)?.text ?? '') || undefined, 120_000);
  await world.idle(); dump('deploy v2-crash', d.parent!.ts, d.eph);
  console.log('REACTIONS', JSON.stringify((world.slack.message(CH, d.parent!.ts) as any).reactions));
}
if (which === 'run' || which === 'all') { const r = await cmd('U0ALICE', 'run slow.sh 20'); await world.slack.waitFor(() => /^(✅|❌|⚠️|🚫)/u.test(world.slack.message(CH, r.parent!.ts)?.text ?? '') || undefined, 120_000); await world.idle(); dump('run slow.sh 20', r.parent!.ts, r.eph); }
if (which === 'backup' || which === 'all') { const r = await cmd('U0ALICE', 'run backup.sh nightly'); await world.slack.waitFor(() => /^(✅|❌|⚠️|🚫)/u.test(world.slack.message(CH, r.parent!.ts)?.text ?? '') || undefined, 60_000); await world.idle(); dump('run backup.sh', r.parent!.ts, r.eph); }
await world.close();
