/** `then(value)` at once when `value` is not a promise: work that finished synchronously costs no microtask turn. */
export function whenDone<T, U>(value: T | Promise<T>, then: (value: T) => U | Promise<U>): U | Promise<U> {
  return value instanceof Promise ? value.then(then) : then(value);
}
