import { inspect } from 'node:util';

/**
 * A value that must never be printed: it shows as <REDACTED> in logs, JSON, template strings
 * and util.inspect. Only `reveal()` gives the value, and only secrets/ and aws/ call it.
 */
export class Redacted<T> {
  readonly #value: T;

  constructor(value: T) {
    this.#value = value;
  }

  reveal(): T {
    return this.#value;
  }

  toString(): string {
    return '<REDACTED>';
  }

  toJSON(): string {
    return '<REDACTED>';
  }

  [inspect.custom](): string {
    return '<REDACTED>';
  }
}
