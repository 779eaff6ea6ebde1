import { getConfig } from '../config/load';
import { productionNotifierDeps } from '../notify/production';
import { createNotifier } from '../notify/notifier';

/**
 * Invoked by EventBridge (asynchronously) with one ECS or CloudWatch alarm event. Throws only when
 * the event could not be told: Lambda retries it twice, then keeps it in the failure queue.
 */
interface LambdaContextLike {
  invokedFunctionArn?: string;
  getRemainingTimeInMillis?: () => number;
}

let remaining: () => number = () => 60_000;
const notify = createNotifier(productionNotifierDeps(() => remaining()));

export async function handler(event: unknown, context: LambdaContextLike = {}): Promise<void> {
  remaining = context.getRemainingTimeInMillis ?? (() => 60_000);
  // Targets without a role are this account's: the account the notifier itself runs in.
  const botAccount = context.invokedFunctionArn?.split(':')[4];
  getConfig();
  await notify(event, botAccount ? { botAccount } : {});
}
