// What the credential broker serves, seen through the lookup a request makes (steps/credential.ts).
import type { CredentialBroker } from '../../extproc/credentials/broker.ts';
import type { Credential, CredentialScope } from '../../extproc/credentials/credential-source.ts';

/**
 * The credential a request for this scope is served at once from the cache, or undefined when it would have to
 * wait (a miss, a remembered failure, a disabled identity). Like a request, a miss starts the single-flighted load;
 * its outcome is left to the test's next `get`.
 */
export function servedAtOnce(broker: CredentialBroker, scope: CredentialScope): Credential | undefined {
  const answer = broker.lookup(scope);
  if (!(answer instanceof Promise)) return answer;
  answer.catch(() => undefined);
  return undefined;
}
