// Token usage, accumulated from buffered bodies or stream events. The latest value of each count wins
// (providers report cumulative counts), and the total is the provider's or input + output.
import type { Usage } from '../../core/request-context.ts';

export interface UsageParts {
  readonly input?: number | undefined;
  readonly output?: number | undefined;
  readonly total?: number | undefined;
}

export class UsageTally {
  #input: number | undefined;
  #output: number | undefined;
  #total: number | undefined;

  merge(p: UsageParts | undefined): void {
    if (p === undefined) return;
    if (p.input !== undefined) this.#input = p.input;
    if (p.output !== undefined) this.#output = p.output;
    if (p.total !== undefined) this.#total = p.total;
  }

  result(): Usage | undefined {
    if (this.#input === undefined && this.#output === undefined && this.#total === undefined) return undefined;
    const inputTokens = this.#input ?? 0;
    const outputTokens = this.#output ?? 0;
    return { inputTokens, outputTokens, totalTokens: this.#total ?? inputTokens + outputTokens };
  }
}

export const sum = (...xs: (number | undefined)[]): number | undefined =>
  xs.every((x) => x === undefined) ? undefined : xs.reduce<number>((a, x) => a + (x ?? 0), 0);
