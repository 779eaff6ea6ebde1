import { allowlist } from './allowlist';
import { cancel } from './cancel';
import { scripts } from './scripts';
import { help } from './help';
import { services } from './services';
import type { AckCommand } from './types';
import { whoami } from './whoami';

/** Commands answered in the ack itself; they touch nothing but the allowlist table. */
export const ACK_COMMANDS: Record<string, AckCommand> = { help, whoami, services, allowlist, scripts, cancel };
