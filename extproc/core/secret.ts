import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/**
 * A secret value that refuses to be printed. String conversion, JSON and util.inspect all yield
 * "[redacted]"; only reveal() gives the value, so every place that uses the value is greppable.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
