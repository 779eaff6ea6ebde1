import { approveByReaction } from '../approval/approve';
import type { ReactionHandler } from '../worker/context';

/** What a reaction on a tracked message does, by the tracked record's kind: the one table of reactions. */
export const REACTION_HANDLERS: Record<string, ReactionHandler> = { deploy: approveByReaction, run: approveByReaction, gate: approveByReaction };
